import type { DynamicModule } from '@nestjs/common';
import { alipayOnSandbox } from '../config/alipay.config';
import { loadAppConfig } from '../config/app.config';
import { EnvReader } from '../config/env';
import { AlipaySandboxModule } from './alipay/alipay-sandbox.module';

/** The simulated gateways to mount: one for each channel that has none of its credentials. */
export function sandboxModules(env: Record<string, string | undefined>): DynamicModule[] {
  const app = loadAppConfig(env);
  const modules: DynamicModule[] = [];
  if (alipayOnSandbox(env)) {
    modules.push(
      AlipaySandboxModule.register({
        dataDir: app.dataDir,
        publicBaseUrl: app.publicBaseUrl,
        // Multiplies Alipay's notification retry schedule (tests compress it).
        timeScale: new EnvReader(env).number('SANDBOX_TIME_SCALE', 1, 0, 1000),
      }),
    );
  }
  return modules;
}
