import { type DynamicModule, Module } from '@nestjs/common';
import { ensureWechatSandboxKeys } from '../sandbox-keys';
import { WechatSandboxCashierController } from './wechat-sandbox-cashier.controller';
import { WechatSandboxControlController } from './wechat-sandbox-control.controller';
import { WechatSandboxGatewayController } from './wechat-sandbox-gateway.controller';
import { WechatSandboxNotifier } from './wechat-sandbox-notifier.service';
import { WechatSandboxGateway } from './wechat-sandbox.gateway';
import { WechatSandboxService } from './wechat-sandbox.service';
import {
  normaliseWechatSandboxSettings,
  WECHAT_SANDBOX_SETTINGS,
  WechatSandboxCredentials,
  type WechatSandboxSettings,
} from './wechat-sandbox.settings';
import { WechatSandboxStore } from './wechat-sandbox.store';

/**
 * A simulated WeChat Pay APIv3 under /sandbox/wechat (design.md "The sandbox").
 * Mounted only when WeChat Pay runs without real credentials. It imports
 * nothing from src/payments, so that it and the WeChat provider check each
 * other's reading of the protocol. The app must keep `req.rawBody` (the JSON
 * parser of common/http/body-parsers.ts does): signatures cover the raw bytes.
 */
@Module({})
export class WechatSandboxModule {
  static register(settings: WechatSandboxSettings): DynamicModule {
    const normalised = normaliseWechatSandboxSettings(settings);
    return {
      module: WechatSandboxModule,
      controllers: [
        WechatSandboxGatewayController,
        WechatSandboxCashierController,
        WechatSandboxControlController,
      ],
      providers: [
        { provide: WECHAT_SANDBOX_SETTINGS, useValue: normalised },
        {
          provide: WechatSandboxCredentials,
          useFactory: (s: WechatSandboxSettings) =>
            WechatSandboxCredentials.fromKeys(ensureWechatSandboxKeys(s.dataDir)),
          inject: [WECHAT_SANDBOX_SETTINGS],
        },
        WechatSandboxStore,
        WechatSandboxNotifier,
        WechatSandboxService,
        WechatSandboxGateway,
      ],
      exports: [WechatSandboxService],
    };
  }
}
