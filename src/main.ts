import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { createServer } from 'node:net';
import { AppModule } from './app.module';
import { configureApp } from './app.setup';
import { AppLogger } from './common/logging/app-logger';
import { appConfig, AppConfig, loadAppConfig } from './config/app.config';

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
