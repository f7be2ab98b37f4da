/**
 * finance-service entry point: configuration, database (embedded by default), Nest on Fastify,
 * metrics on a second port, graceful shutdown.
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import type { Server } from 'node:http';
import { AppModule } from './app.module';
import { AppConfig, ConfigError, loadConfig } from './config/app-config';
import { Infrastructure, openInfrastructure } from './database/infrastructure';
import { runMigrationsExclusively } from './database/migration-runner';
import { featureModules } from './features';
import { ShutdownState } from './health/shutdown-state';
import { AllExceptionsFilter } from './http/all-exceptions.filter';
import { RouteTable } from './http/route-table';
import { deferJsonBodyErrors, UnparsableBodyInterceptor } from './http/unparsable-body';
import { closeConnectionsOnShutdown } from './http/close-connections-on-shutdown';
import { acceptJsonSentAsForm } from './http/lenient-form-parser';
import { echoRequestId, requestIdOptions } from './http/request-id';
import { AppLogger, createRootLogger } from './logging/root-logger';
import { installHttpMetrics } from './metrics/http-metrics.hook';
import { FinanceMetrics } from './metrics/metrics-registry';
import { startMetricsServer } from './metrics/metrics-server';
import { registerPoolMetrics } from './metrics/pool-metrics';
import { SERVICE_VERSION } from './version';

function readConfigOrExit(): AppConfig {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`finance-service: invalid configuration: ${error.problems.join('; ')}\n`);
      process.exit(1);
    }
    throw error;
  }
}

async function bootstrap(): Promise<void> {
  const config = readConfigOrExit();
  const logger = createRootLogger(config.logLevel, { version: SERVICE_VERSION });
  const metrics = new FinanceMetrics(SERVICE_VERSION, config.rolloutStage);
  const shutdown = new ShutdownState();
  const stopDuringStartup = exitOnStopSignalWhileStarting(config, logger);

  if (config.database.embedded) logger.info({ dataDir: config.embeddedDataDir, port: config.database.port }, 'starting embedded PostgreSQL');
  const infra = await openInfrastructure(config, 'finance-service', metrics);
  registerPoolMetrics(metrics, () => infra.pool);
  if (config.migrateOnStart) {
    const { applied } = await runMigrationsExclusively(infra.dataSource);
    logger.info({ applied }, applied.length ? `applied ${applied.length} migration(s)` : 'schema is up to date');
  }

  const runtime = { config, logger, metrics, shutdown, dataSource: infra.dataSource, pool: infra.pool, eventStore: infra.eventStore };
  const adapter = new FastifyAdapter({ bodyLimit: 1024 * 1024, return503OnClosing: true, ...requestIdOptions });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.register(runtime, featureModules(runtime)), adapter, {
    bufferLogs: true,
    bodyParser: false,
  });
  app.useLogger(app.get(Logger));
  const fastify = app.getHttpAdapter().getInstance();
  const routes = RouteTable.recording(fastify);
  deferJsonBodyErrors(fastify);
  acceptJsonSentAsForm(fastify);
  echoRequestId(fastify);
  closeConnectionsOnShutdown(fastify, shutdown);
  installHttpMetrics(fastify, metrics);
  app.useGlobalFilters(new AllExceptionsFilter(routes, logger));
  app.useGlobalInterceptors(new UnparsableBodyInterceptor());

  // The metrics port first: from the moment the API listens, a stop signal must drain, not exit.
  const metricsServer = await startMetricsServer(metrics, config.metricsPort);
  await app.listen({ port: config.port, host: '0.0.0.0' });
  stopDuringStartup.remove();
  installShutdown({ config, logger, shutdown, app, metricsServer, infra });
  logger.info(
    { port: config.port, metricsPort: config.metricsPort, eventStore: config.eventStore, embeddedDatabase: config.database.embedded },
    `finance-service listening on http://localhost:${config.port} (health: /health/live, /health/ready; metrics: http://localhost:${config.metricsPort}/metrics)`,
  );
}

/**
 * Until the drain handler is installed, a stop signal ends the process at once: nothing has been accepted
 * yet to drain, and a migration cut short is rolled back by PostgreSQL. Without a listener Node would
 * exit too, but as PID 1 in a container a signal with no listener is ignored: a pod deleted while
 * waiting for the migration lock or the database would wait out its whole grace period.
 * Embedded PostgreSQL (development) is left to the package's own exit hook, which stops it and exits.
 */
function exitOnStopSignalWhileStarting(config: AppConfig, logger: AppLogger): { remove(): void } {
  const onSignal = (signal: NodeJS.Signals) => {
    if (config.database.embedded && process.listenerCount(signal) > 1) return;
    logger.warn({ signal }, 'stop signal while starting: exiting before accepting any request');
    logger.flush();
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    remove: () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    },
  };
}

interface ShutdownParts {
  config: AppConfig;
  logger: AppLogger;
  shutdown: ShutdownState;
  app: NestFastifyApplication;
  metricsServer: Server;
  infra: Infrastructure;
}

/**
 * SIGTERM: readiness turns 503 at once; Nest stops background work (projection) and closes the
 * server, which waits for in-flight requests; then the pool and embedded database close; exit 0.
 */
function installShutdown({ config, logger, shutdown, app, metricsServer, infra }: ShutdownParts): void {
  const stop = async (signal: string) => {
    if (shutdown.shuttingDown) {
      logger.info({ signal }, 'already shutting down: still draining');
      return;
    }
    shutdown.begin();
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'drain deadline passed; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    try {
      await app.close();
      await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      await infra.close();
      logger.info('shutdown complete');
      logger.flush();
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  // The embedded PostgreSQL package (async-exit-hook) listens for these too: it would stop PostgreSQL at once,
  // under the requests still draining, and exit 143. This handler stops it last (infra.close()).
  process.removeAllListeners('SIGTERM');
  process.removeAllListeners('SIGINT');
  // `on`, not `once`: a repeated signal (a second Ctrl-C, a runtime re-sending stop) must not fall through to
  // Node's default action and kill the drain; stop() ignores it.
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

bootstrap().catch((error: unknown) => {
  process.stderr.write(`finance-service failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
