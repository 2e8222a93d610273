import type { DynamicModule } from '@nestjs/common';
import { loadAppConfig } from '../config/app.config';
import { EnvReader } from '../config/env';
import { AlipaySandboxModule } from './alipay/alipay-sandbox.module';

const ALIPAY_CREDENTIALS = [
  'ALIPAY_APP_ID',
  'ALIPAY_PRIVATE_KEY',
  'ALIPAY_PRIVATE_KEY_FILE',
  'ALIPAY_PUBLIC_KEY',
  'ALIPAY_PUBLIC_KEY_FILE',
];

/** The simulated gateways to mount: one for each channel that has none of its credentials. */
export function sandboxModules(env: Record<string, string | undefined>): DynamicModule[] {
  const e = new EnvReader(env);
  const app = loadAppConfig(env);
  const modules: DynamicModule[] = [];
  if (!ALIPAY_CREDENTIALS.some((name) => e.has(name))) {
    modules.push(
      AlipaySandboxModule.register({
        dataDir: app.dataDir,
        publicBaseUrl: app.publicBaseUrl,
        timeScale: e.number('SANDBOX_TIME_SCALE', 1, 0, 1000),
      }),
    );
  }
  return modules;
}
