import type { DynamicModule } from '@nestjs/common';
import { alipayOnSandbox } from '../config/alipay.config';
import { loadAppConfig } from '../config/app.config';
import { EnvReader } from '../config/env';
import { wechatOnSandbox, wechatSandboxCertMode } from '../config/wechat.config';
import { AlipaySandboxModule } from './alipay/alipay-sandbox.module';
import { WechatSandboxModule } from './wechat/wechat-sandbox.module';

/** The simulated gateways to mount: one for each channel that has none of its credentials. */
export function sandboxModules(env: Record<string, string | undefined>): DynamicModule[] {
  const app = loadAppConfig(env);
  const modules: DynamicModule[] = [];
  const settings = {
    dataDir: app.dataDir,
    publicBaseUrl: app.publicBaseUrl,
    // Multiplies the channels' notification retry schedules (tests compress them).
    timeScale: new EnvReader(env).number('SANDBOX_TIME_SCALE', 1, 0, 1000),
  };
  if (alipayOnSandbox(env)) {
    const certMode = new EnvReader(env).bool('ALIPAY_SANDBOX_CERT_MODE', false);
    modules.push(AlipaySandboxModule.register({ ...settings, certMode }));
  }
  // The sandbox speaks the API version paygate was told to use.
  const apiVersion = (env.WECHAT_API_VERSION ?? 'v3').toLowerCase() === 'v2' ? 'v2' : 'v3';
  const e = new EnvReader(env);
  if (wechatOnSandbox(env)) {
    modules.push(
      WechatSandboxModule.register({
        ...settings,
        apiVersion,
        certMode: wechatSandboxCertMode(env) !== false,
        certificatesDown: e.bool('WECHAT_SANDBOX_CERTIFICATES_DOWN', false),
      }),
    );
  }
  return modules;
}
