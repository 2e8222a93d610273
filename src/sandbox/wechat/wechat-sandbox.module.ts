import { type DynamicModule, Module } from '@nestjs/common';
import { ensureWechatSandboxKeys } from '../sandbox-keys';
import { WechatSandboxCertificates } from './wechat-sandbox-certificates';
import { WechatSandboxCertificatesController } from './wechat-sandbox-certificates.controller';
import { WechatSandboxCashierController } from './wechat-sandbox-cashier.controller';
import { WechatSandboxBills } from './wechat-sandbox-bill.service';
import {
  WechatSandboxBillControlController,
  WechatSandboxControlController,
} from './wechat-sandbox-control.controller';
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
import { WechatSandboxNotifications } from './wechat-sandbox-notifications';
import { WechatV2SandboxGatewayController } from './v2/wechat-v2-sandbox-gateway.controller';
import { WechatV2SandboxNotifier } from './v2/wechat-v2-sandbox-notifier.service';
import { WechatV2SandboxCredentials } from './v2/wechat-v2-sandbox.credentials';
import { WechatV2SandboxGateway } from './v2/wechat-v2-sandbox.gateway';

/**
 * A simulated WeChat Pay under /sandbox/wechat (design.md "The sandbox"): APIv3
 * under /sandbox/wechat/v3, or, with `apiVersion: 'v2'`, API v2 under
 * /sandbox/wechat/v2. Both share the trade book, the control API and the
 * cashier page; each has its own gateway and notifier (its wire format).
 * Mounted only when WeChat Pay runs without real credentials. It imports
 * nothing from src/payments, so that it and the WeChat provider check each
 * other's reading of the protocol. The app must keep `req.rawBody` (the JSON
 * parser of common/http/body-parsers.ts does): v3 signatures cover the raw bytes.
 */
@Module({})
export class WechatSandboxModule {
  static register(settings: WechatSandboxSettings): DynamicModule {
    const normalised = normaliseWechatSandboxSettings(settings);
    const common = [
      { provide: WECHAT_SANDBOX_SETTINGS, useValue: normalised },
      WechatSandboxStore,
      WechatSandboxService,
      WechatSandboxBills,
    ];
    if (normalised.apiVersion === 'v2') {
      return {
        module: WechatSandboxModule,
        controllers: [
          WechatV2SandboxGatewayController,
          WechatSandboxCashierController,
          WechatSandboxControlController,
          WechatSandboxBillControlController,
        ],
        providers: [
          ...common,
          {
            provide: WechatV2SandboxCredentials,
            useFactory: (s: WechatSandboxSettings) =>
              WechatV2SandboxCredentials.fromKeys(ensureWechatSandboxKeys(s.dataDir)),
            inject: [WECHAT_SANDBOX_SETTINGS],
          },
          WechatV2SandboxNotifier,
          { provide: WechatSandboxNotifications, useExisting: WechatV2SandboxNotifier },
          WechatV2SandboxGateway,
        ],
        exports: [WechatSandboxService],
      };
    }
    return {
      module: WechatSandboxModule,
      controllers: [
        WechatSandboxGatewayController,
        WechatSandboxCashierController,
        WechatSandboxControlController,
        WechatSandboxBillControlController,
        WechatSandboxCertificatesController,
      ],
      providers: [
        ...common,
        {
          provide: WechatSandboxCredentials,
          useFactory: (s: WechatSandboxSettings) =>
            WechatSandboxCredentials.fromKeys(ensureWechatSandboxKeys(s.dataDir)),
          inject: [WECHAT_SANDBOX_SETTINGS],
        },
        WechatSandboxCertificates,
        WechatSandboxNotifier,
        { provide: WechatSandboxNotifications, useExisting: WechatSandboxNotifier },
        WechatSandboxGateway,
      ],
      exports: [WechatSandboxService],
    };
  }
}
