import type { FastifyInstance } from 'fastify';

/**
 * The methods served on each route, recorded as routes register, so a request for a path can be
 * answered "405, use GET" rather than 404. Fastify's own findRoute and hasRoute match route patterns
 * ("/invoices/:id"), not request paths ("/invoices/3f0c..."), so this matches the paths itself.
 */
export class RouteTable {
  private readonly routes: Array<{ method: string; pattern: RegExp }> = [];

  /** Starts recording: call before the application registers its routes (before Nest's init or listen). */
  static recording(fastify: FastifyInstance): RouteTable {
    const table = new RouteTable();
    fastify.addHook('onRoute', (route) => {
      for (const method of Array.isArray(route.method) ? route.method : [route.method]) table.add(method, route.url);
    });
    return table;
  }

  add(method: string, url: string): void {
    this.routes.push({ method: method.toUpperCase(), pattern: routePattern(url) });
  }

  /** The methods among `methods` that some route serves on `path`. */
  methodsFor(path: string, methods: readonly string[]): string[] {
    return methods.filter((method) => this.routes.some((route) => route.method === method && route.pattern.test(path)));
  }
}

/** "/invoices/:id/payments" → /^\/invoices\/[^/]+\/payments\/?$/ (a trailing slash is tolerated, as Fastify may). */
function routePattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment === '*' ? '.*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source.replace(/\/$/, '')}/?$`);
}
