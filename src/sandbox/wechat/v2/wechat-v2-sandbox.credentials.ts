import type { WechatSandboxKeys } from '../../sandbox-keys';
import type { RefundStatus } from '../wechat-sandbox.types';

/** What the simulated v2 gateway holds: the merchant's ids and the API key both sides sign with. */
export class WechatV2SandboxCredentials {
  private constructor(
    readonly appId: string,
    readonly mchId: string,
    readonly apiKey: string,
  ) {}

  static fromKeys(keys: WechatSandboxKeys): WechatV2SandboxCredentials {
    return new WechatV2SandboxCredentials(keys.appId, keys.mchId, keys.apiKey);
  }
}

/** The trade book keeps v3's refund words; v2 says REFUNDCLOSE and CHANGE (B5). */
export function v2RefundStatus(status: RefundStatus): string {
  switch (status) {
    case 'CLOSED':
      return 'REFUNDCLOSE';
    case 'ABNORMAL':
      return 'CHANGE';
    default:
      return status;
  }
}

/** `yyyy-MM-dd HH:mm:ss`, Beijing time (refund_success_time_$n, success_time). */
export function v2RefundTime(at: Date): string {
  return new Date(at.getTime() + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
}
