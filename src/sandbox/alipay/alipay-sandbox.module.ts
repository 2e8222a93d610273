import { type DynamicModule, Module } from '@nestjs/common';
import { ensureAlipaySandboxKeys } from '../sandbox-keys';
import {
  ensureAlipaySandboxCertificates,
  readAlipaySandboxCertificateSns,
} from './alipay-sandbox.certificates';
import { AlipaySandboxBillService } from './alipay-sandbox-bill.service';
import { AlipaySandboxCashierController } from './alipay-sandbox-cashier.controller';
import {
  AlipaySandboxBillControlController,
  AlipaySandboxControlController,
} from './alipay-sandbox-control.controller';
import { AlipaySandboxGatewayController } from './alipay-sandbox-gateway.controller';
import { AlipaySandboxNotifier } from './alipay-sandbox-notifier.service';
import { AlipaySandboxGateway } from './alipay-sandbox.gateway';
import { AlipaySandboxService } from './alipay-sandbox.service';
import { AlipaySandboxStore } from './alipay-sandbox.store';
import {
  ALIPAY_SANDBOX_SETTINGS,
  AlipaySandboxCredentials,
  normaliseAlipaySandboxSettings,
  type AlipaySandboxSettings,
} from './alipay-sandbox.settings';

/**
 * A simulated Alipay openapi gateway under /sandbox/alipay (design.md "The
 * sandbox"). Mounted only when Alipay runs without real credentials. It imports
 * nothing from src/payments, so that it and the Alipay provider check each
 * other's reading of the protocol.
 */
@Module({})
export class AlipaySandboxModule {
  static register(settings: AlipaySandboxSettings): DynamicModule {
    const normalised = normaliseAlipaySandboxSettings(settings);
    return {
      module: AlipaySandboxModule,
      controllers: [
        AlipaySandboxGatewayController,
        AlipaySandboxCashierController,
        AlipaySandboxControlController,
        AlipaySandboxBillControlController,
      ],
      providers: [
        { provide: ALIPAY_SANDBOX_SETTINGS, useValue: normalised },
        {
          provide: AlipaySandboxCredentials,
          useFactory: (s: AlipaySandboxSettings) => {
            const keys = ensureAlipaySandboxKeys(s.dataDir);
            if (!s.certMode) return AlipaySandboxCredentials.fromKeys(keys);
            ensureAlipaySandboxCertificates(s.dataDir, keys);
            return AlipaySandboxCredentials.fromKeys(
              keys,
              readAlipaySandboxCertificateSns(s.dataDir),
            );
          },
          inject: [ALIPAY_SANDBOX_SETTINGS],
        },
        AlipaySandboxStore,
        AlipaySandboxNotifier,
        AlipaySandboxService,
        AlipaySandboxBillService,
        AlipaySandboxGateway,
      ],
      exports: [AlipaySandboxService],
    };
  }
}
