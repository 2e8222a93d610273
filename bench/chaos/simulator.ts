/**
 * The channels of the chaos run: one paygate process in sandbox mode whose
 * only use is its /sandbox routes (jobs off, its own SQLite file), which the
 * three instances under test call as their real Alipay gateway and WeChat Pay
 * base URL, configured with credentials exactly as a merchant configures the
 * real ones (ALIPAY_GATEWAY, WECHAT_BASE_URL and the sandbox's generated keys).
 * The in-process sandbox of an instance would be per instance; this one is
 * shared, as a channel is. Its control API drives the buyers and tells, at the
 * end, what the channels did: trades paid, refunds made, close calls, and every
 * notification attempt with the answer it got.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BenchChild, REPO_ROOT, SERVICE_KEYS, startChild } from '../support/child-process';

export type Channel = 'alipay' | 'wechat';

export interface SimAttempt {
  at: string;
  httpStatus: number | null;
  acknowledged: boolean;
}

export interface SimNotification {
  event: string;
  tamper: string | null;
  acknowledged: boolean;
  gaveUp: boolean;
  attempts: SimAttempt[];
}

/** What both simulated channels say about a trade, in one shape. */
export interface SimTrade {
  channel: Channel;
  outTradeNo: string;
  paid: boolean;
  totalFen: number;
  /** Refunds the channel made (not closed / failed ones), by out_refund_no / out_request_no. */
  refunds: { outRefundNo: string; amountFen: number; settled: boolean }[];
  closeCalls: number;
  notifications: SimNotification[];
}

export async function startSimulator(opts: {
  port: number;
  dataDir: string;
  logFile: string;
  timeScale: number;
}): Promise<BenchChild> {
  return startChild({
    name: 'simulator',
    args: [join(REPO_ROOT, 'dist', 'src', 'main.js')],
    port: opts.port,
    logFile: opts.logFile,
    env: {
      NODE_ENV: 'production',
      PORT: String(opts.port),
      PUBLIC_BASE_URL: `http://127.0.0.1:${opts.port}`,
      DATA_DIR: opts.dataDir,
      DB_TYPE: 'sqlite',
      DB_SQLITE_SYNCHRONOUS: 'NORMAL',
      JOBS_ENABLED: 'false',
      LOG_LEVEL: 'warn',
      SANDBOX_TIME_SCALE: String(opts.timeScale),
      ...SERVICE_KEYS,
    },
  });
}

/** The channel settings of an instance that uses the simulator as its real channels. */
export function channelEnv(simDataDir: string, simPort: number): Record<string, string> {
  const read = (file: string) =>
    JSON.parse(readFileSync(join(simDataDir, 'sandbox', file), 'utf8')) as Record<string, string>;
  const a = read('alipay-keys.json');
  const w = read('wechat-keys.json');
  const base = `http://127.0.0.1:${simPort}/sandbox`;
  return {
    ALIPAY_APP_ID: a.appId,
    ALIPAY_PRIVATE_KEY: a.appPrivateKeyPem,
    ALIPAY_PUBLIC_KEY: a.gatewayPublicKeyPem,
    ALIPAY_SELLER_ID: a.sellerId,
    ALIPAY_GATEWAY: `${base}/alipay/gateway.do`,
    WECHAT_API_VERSION: 'v3',
    WECHAT_APP_ID: w.appId,
    WECHAT_MCH_ID: w.mchId,
    WECHAT_APIV3_KEY: w.apiV3Key,
    WECHAT_PRIVATE_KEY: w.merchantPrivateKeyPem,
    WECHAT_CERT_SERIAL: w.merchantCertSerial,
    WECHAT_PLATFORM_PUBLIC_KEY: w.platformPublicKeyPem,
    WECHAT_PLATFORM_PUBLIC_KEY_ID: w.platformPublicKeyId,
    WECHAT_BASE_URL: `${base}/wechat`,
  };
}

export class SimulatorControl {
  constructor(private readonly baseUrl: string) {}

  /** POST to a trade's control route; the status and the JSON answer. */
  async control(
    channel: Channel,
    outTradeNo: string,
    action: string,
    body: Record<string, unknown> = {},
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await fetch(
      `${this.baseUrl}/sandbox/${channel}/control/trades/${encodeURIComponent(outTradeNo)}/${action}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      },
    );
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  async trades(channel: Channel): Promise<SimTrade[]> {
    const res = await fetch(`${this.baseUrl}/sandbox/${channel}/control/trades`, {
      signal: AbortSignal.timeout(120_000),
    });
    if (res.status !== 200) throw new Error(`simulator: ${channel} trades answered ${res.status}`);
    const list = (await res.json()) as Record<string, unknown>[];
    return list.map((t) => (channel === 'alipay' ? alipayTrade(t) : wechatTrade(t)));
  }
}

type Raw = Record<string, unknown>;

function notifications(t: Raw): SimNotification[] {
  return ((t.notifications as Raw[]) ?? []).map((n) => ({
    event: String(n.event),
    tamper: (n.tamper as string | null) ?? null,
    acknowledged: Boolean(n.acknowledged),
    gaveUp: Boolean(n.gaveUp),
    attempts: ((n.attempts as Raw[]) ?? []).map((a) => ({
      at: String(a.at),
      httpStatus: (a.httpStatus as number | null) ?? null,
      acknowledged: Boolean(a.acknowledged),
    })),
  }));
}

function alipayTrade(t: Raw): SimTrade {
  return {
    channel: 'alipay',
    outTradeNo: String(t.outTradeNo),
    // A fully refunded Alipay trade is TRADE_CLOSED but was paid: paidAt tells.
    paid: t.paidAt !== undefined && t.paidAt !== null,
    totalFen: Number(t.totalAmountFen),
    refunds: ((t.refunds as Raw[]) ?? []).map((r) => ({
      outRefundNo: String(r.outRequestNo),
      amountFen: Number(r.refundAmountFen),
      settled: true,
    })),
    closeCalls: Number(t.closeCalls ?? 0),
    notifications: notifications(t),
  };
}

function wechatTrade(t: Raw): SimTrade {
  return {
    channel: 'wechat',
    outTradeNo: String(t.outTradeNo),
    paid: t.paidAt !== undefined && t.paidAt !== null,
    totalFen: Number(t.totalFen),
    refunds: ((t.refunds as Raw[]) ?? [])
      .filter((r) => r.status !== 'CLOSED' && r.status !== 'ABNORMAL')
      .map((r) => ({
        outRefundNo: String(r.outRefundNo),
        amountFen: Number(r.amountFen),
        settled: r.status === 'SUCCESS',
      })),
    closeCalls: Number(t.closeCalls ?? 0),
    notifications: notifications(t),
  };
}
