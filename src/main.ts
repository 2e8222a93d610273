import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { configureApp } from './app.setup';
import { AppLogger } from './common/logging/app-logger';
import { appConfig, AppConfig } from './config/app.config';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(), {
    bodyParser: false,
    logger: new AppLogger(),
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
  // Configuration errors name the variable; print them plainly and stop.
  const err = error as Error;
  new AppLogger().error(`paygate failed to start: ${err?.message ?? String(error)}`, 'Bootstrap');
  process.exit(1);
});
