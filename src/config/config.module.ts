import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { alipayConfig } from './alipay.config';
import { appConfig } from './app.config';
import { databaseConfig } from './database.config';
import { jobsConfig } from './jobs.config';
import { secretsConfig } from './secrets.config';
import { webhooksConfig } from './webhooks.config';
import { wechatConfig } from './wechat.config';

/** Every concern's typed settings, validated when the app boots. */
export const CONFIG_LOADERS = [
  appConfig,
  databaseConfig,
  secretsConfig,
  webhooksConfig,
  jobsConfig,
  alipayConfig,
  wechatConfig,
];

@Module({
  imports: [ConfigModule.forRoot({ isGlobal: true, cache: true, load: CONFIG_LOADERS })],
})
export class AppConfigModule {}
