import { INestApplication } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { DomainExceptionFilter } from './common/errors/domain-exception.filter';
import { useBodyParsers } from './common/http/body-parsers';
import { AppLogger } from './common/logging/app-logger';
import { AccessLogMiddleware } from './common/logging/access-log.middleware';
import { assignRequestId } from './common/logging/request-id.middleware';
import { createValidationPipe } from './common/validation/validation.pipe';
import { GracefulShutdown } from './health/graceful-shutdown.service';
import type { AppConfig } from './config/app.config';
import { appConfig } from './config/app.config';

/**
 * Everything main.ts does to the app besides listening, shared with the e2e
 * tests so they exercise the same body limits, pipes, filters and docs.
 * The app must be created with `{ bodyParser: false }`: the parsers are set here.
 */
export function configureApp(app: NestExpressApplication): INestApplication {
  const config = app.get<AppConfig>(appConfig.KEY);
  app.useLogger(new AppLogger({ level: config.logLevel, format: config.logFormat }));
  app.set('trust proxy', config.trustProxy === false ? false : config.trustProxy);
  app.disable('x-powered-by');
  // Before anything else, so that even answers given before routing have an id and a log line.
  app.use(assignRequestId);
  const access = new AccessLogMiddleware();
  app.use(access.use.bind(access));
  useBodyParsers(app, config.bodyLimitBytes);
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new DomainExceptionFilter());
  // Signals are handled by main.ts (stopGracefully); app.close() drains HTTP before the database closes.
  app.get(GracefulShutdown).attach(app.getHttpServer());
  setupSwagger(app);
  return app;
}

function setupSwagger(app: INestApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('paygate')
      .setDescription(
        'Self-hosted payment center for Alipay and WeChat Pay. Amounts are integers in fen (CNY cents). ' +
          'Errors are `{statusCode, error, message, code}`.',
      )
      .setVersion('0.1.0')
      // Swagger UI groups operations in this order: the merchant API first.
      .addTag('orders', 'Create, read and close orders (MERCHANT_API_KEY)')
      .addTag(
        'payments',
        "Pay an order on a channel (MERCHANT_API_KEY or the order's client secret)",
      )
      .addTag('refunds', 'Refund paid orders, in parts (MERCHANT_API_KEY)')
      .addTag('admin', "Operators' views: orders, notifications, refunds (ADMIN_API_KEY)")
      .addTag('webhooks', 'Merchant webhook deliveries: inspect and redeliver (ADMIN_API_KEY)')
      .addTag(
        'channel callbacks',
        'Notifications the channels send (called by Alipay and WeChat Pay)',
      )
      .addTag('operations', 'Health check and Prometheus metrics')
      .addTag(
        'sandbox',
        'The simulated Alipay and WeChat Pay: drive trades by hand (no real credentials)',
      )
      // The keys are opaque API keys, not JWTs (addBearerAuth would say JWT).
      .addBearerAuth(
        {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'API key',
          description: 'MERCHANT_API_KEY',
        },
        'merchant',
      )
      .addBearerAuth(
        { type: 'http', scheme: 'bearer', bearerFormat: 'API key', description: 'ADMIN_API_KEY' },
        'admin',
      )
      .addApiKey(
        {
          type: 'apiKey',
          in: 'header',
          name: 'X-Client-Secret',
          description: "an order's clientSecret",
        },
        'client',
      )
      .build(),
    // Every controller names its tags (one names them per route); no tags made up from class names.
    { autoTagControllers: false },
  );
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    // keeps the keys entered under Authorize across reloads (in the browser's localStorage)
    swaggerOptions: { persistAuthorization: true },
  });
}
