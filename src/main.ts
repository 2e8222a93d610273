import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { createServer } from 'node:net';
import { AppModule } from './app.module';
import { configureApp } from './app.setup';
import { AppLogger } from './common/logging/app-logger';
import { appConfig, AppConfig, loadAppConfig } from './config/app.config';
import { GracefulShutdown } from './health/graceful-shutdown.service';

/** A stop that has not finished by then ends the process anyway (orchestrators wait about 10 s). */
const STOP_TIMEOUT_MS = 9_500;

/**
 * Fails at once when the port is taken, before any module starts a job or
 * touches the database (Nest would only find out at listen, after all that).
 */
function assertPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          error.code === 'EADDRINUSE'
            ? `PORT: ${port} is already in use by another process`
            : `PORT: cannot listen on ${port}: ${error.message}`,
        ),
      ),
    );
    probe.listen(port, () => probe.close(() => resolve()));
  });
}

/**
 * SIGTERM / SIGINT: stop taking requests and finish those in flight, while the
 * jobs finish their batch and hand back their leases (onModuleDestroy); then the
 * database closes and the process exits 0. Past STOP_TIMEOUT_MS it exits 1: what
 * was left undone is safe to redo (conditional updates, leases that run out).
 */
function stopOnSignals(app: NestExpressApplication): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const logger = new Logger('Lifecycle');
    logger.log(`${signal}: no new requests; finishing those in flight`);
    setTimeout(() => {
      logger.error(`not stopped within ${STOP_TIMEOUT_MS} ms: exiting anyway`);
      process.exit(1);
    }, STOP_TIMEOUT_MS).unref();
    void app.get(GracefulShutdown).drain();
    app.close().then(
      () => process.exit(0),
      (error: Error) => {
        logger.error(`stop failed: ${error.message}`);
        process.exit(1);
      },
    );
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop(signal));
}

async function bootstrap(): Promise<void> {
  const early = loadAppConfig(process.env);
  if (early.port !== 0) await assertPortFree(early.port);
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(), {
    bodyParser: false,
    logger: new AppLogger(),
    // A failing module is reported below, in the one boot-error format, not by Nest itself.
    abortOnError: false,
  });
  configureApp(app);
  const config = app.get<AppConfig>(appConfig.KEY);
  await app.listen(config.port);
  stopOnSignals(app);
  Logger.log(
    `paygate listening on ${config.port}; public URL ${config.publicBaseUrl}; docs at /docs`,
    'Bootstrap',
  );
}

bootstrap().catch((error: unknown) => {
  // Every boot error — a bad variable (named first), a taken port, an unreachable
  // database — comes out as this one line, and the process stops.
  const err = error as Error;
  new AppLogger().error(`paygate failed to start: ${err?.message ?? String(error)}`, 'Bootstrap');
  process.exit(1);
});
