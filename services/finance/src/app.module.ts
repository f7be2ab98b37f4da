import { DynamicModule, Module, RequestMethod } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { CoreModule } from './core.module';
import { HealthModule } from './health/health.module';
import { MetricsModule } from './metrics/metrics.module';
import type { FinanceRuntime } from './runtime';

/** Probe and scrape traffic would drown the request log. */
function isProbeOrScrape(req: { url?: string; originalUrl?: string }): boolean {
  return /^\/(health|metrics)(\/|\?|$)/.test(req.originalUrl ?? req.url ?? '');
}

@Module({})
export class AppModule {
  /** Feature modules register here; each is built from the shared runtime (see runtime.ts). */
  static register(runtime: FinanceRuntime, featureModules: DynamicModule[] = []): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.register(runtime),
        LoggerModule.forRoot({
          // Nest 12's path syntax: '{*path}' matches every route, including unknown ones (404s get logged too).
          forRoutes: [{ path: '{*path}', method: RequestMethod.ALL }],
          pinoHttp: {
            logger: runtime.logger,
            // The id comes from Fastify (request-id.ts): the caller's x-request-id or a new UUID.
            customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
            autoLogging: { ignore: (req) => isProbeOrScrape(req as never) },
          },
        }),
        HealthModule,
        MetricsModule,
        ...featureModules,
      ],
    };
  }
}
