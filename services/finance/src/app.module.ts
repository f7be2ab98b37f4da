import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { randomUUID } from 'node:crypto';
import { CoreModule } from './core.module';
import { HealthModule } from './health/health.module';
import { MetricsModule } from './metrics/metrics.module';
import type { FinanceRuntime } from './runtime';

/** A request id from the caller's x-request-id (when sane), else a new UUID. */
function requestId(req: { headers: Record<string, string | string[] | undefined> }): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
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
          pinoHttp: {
            logger: runtime.logger,
            genReqId: (req, res) => {
              const id = requestId(req as never);
              res.setHeader('x-request-id', id);
              return id;
            },
            customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
            // Probe and scrape traffic would drown the request log.
            autoLogging: { ignore: (req) => /^\/(health|metrics)/.test(req.url ?? '') },
          },
        }),
        HealthModule,
        MetricsModule,
        ...featureModules,
      ],
    };
  }
}
