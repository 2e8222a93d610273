import { INestApplication } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { DomainExceptionFilter } from './common/errors/domain-exception.filter';
import { useBodyParsers } from './common/http/body-parsers';
import { AppLogger } from './common/logging/app-logger';
import { assignRequestId } from './common/logging/request-id.middleware';
import { createValidationPipe } from './common/validation/validation.pipe';
import type { AppConfig } from './config/app.config';
import { appConfig } from './config/app.config';

/**
 * Everything main.ts does to the app besides listening, shared with the e2e
 * tests so they exercise the same body limits, pipes, filters and docs.
 * The app must be created with `{ bodyParser: false }`: the parsers are set here.
 */
export function configureApp(app: NestExpressApplication): INestApplication {
  const config = app.get<AppConfig>(appConfig.KEY);
  app.useLogger(new AppLogger(config.logLevel));
  app.set('trust proxy', config.trustProxy === false ? false : config.trustProxy);
  app.disable('x-powered-by');
  app.use(assignRequestId);
  useBodyParsers(app, config.bodyLimitBytes);
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new DomainExceptionFilter());
  app.enableShutdownHooks();
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
      .addBearerAuth(
        { type: 'http', scheme: 'bearer', description: 'MERCHANT_API_KEY' },
        'merchant',
      )
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'ADMIN_API_KEY' }, 'admin')
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
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}
