/**
 * The hostile traffic of the chaos run: requests no honest caller sends, over
 * every endpoint. Each says what a correct paygate answers; none may change
 * anything (checked at the end: the decoy orders they aim at stay unpaid, no
 * order or refund of theirs exists). Notifications are signed with
 * bench/support's own reading of the protocols, as the channels sign them, and
 * then spoiled one way each.
 */
import { generateKeyPairSync, randomInt } from 'node:crypto';
import {
  SandboxKeys,
  formEncode,
  readSandboxKeys,
  signedPaidNotification,
} from '../support/alipay-bench';
import { AttemptFixture, alnum } from '../support/fixtures';
import {
  WechatBenchKeys,
  readWechatKeys,
  signWechatBody,
  wechatNotificationBody,
} from '../support/wechat-bench';

export interface Target {
  orderId: string;
  outTradeNo: string;
  amountFen: number;
  channel: 'alipay' | 'wechat';
  clientSecret: string;
}

export interface HostileRequest {
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Sent to one instance directly (with a forged X-Forwarded-For) rather than through the proxy. */
  direct?: boolean;
  /** Whether an answer is the right refusal. */
  refused(status: number, text: string): boolean;
}

const forgedKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const OUTSIDER = () => `203.0.113.${randomInt(1, 255)}`;

const fourXX = (status: number) => status >= 400 && status < 500;
/** Alipay: anything but the text `success` makes it send again; never a 5xx. */
const alipayRefused = (status: number, text: string) => status < 500 && text.trim() !== 'success';

function fixture(t: Target): AttemptFixture {
  return {
    orderId: t.orderId,
    merchantOrderNo: 'HOSTILE',
    paymentId: 'pay_hostile',
    outTradeNo: t.outTradeNo,
    amountFen: t.amountFen,
    subject: 'Chaos order',
  };
}

const billionLaughs = () => {
  const lines = ['<?xml version="1.0"?>', '<!DOCTYPE lolz [', '<!ENTITY lol "lol">'];
  for (let i = 1; i <= 9; i++) {
    const prev = i === 1 ? 'lol' : `lol${i - 1}`;
    lines.push(`<!ENTITY lol${i} "${Array.from({ length: 10 }, () => `&${prev};`).join('')}">`);
  }
  lines.push(']>', '<xml><return_code>&lol9;</return_code></xml>');
  return Buffer.from(lines.join('\n'));
};

const deepJson = (depth: number) => Buffer.from(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);

export class HostileTraffic {
  private readonly alipayKeys: SandboxKeys;
  private readonly wechatKeys: WechatBenchKeys;
  private readonly forgedAlipay: SandboxKeys;
  private readonly forgedWechat: WechatBenchKeys;

  constructor(
    simDataDir: string,
    private readonly merchantKey: string,
    private readonly adminKey: string,
    /** Orders never paid: what forged notifications try to pay. */
    private readonly decoys: () => Target[],
    /** Paid orders: what forged refund calls try to refund. */
    private readonly paid: () => Target[],
  ) {
    this.alipayKeys = readSandboxKeys(simDataDir);
    this.wechatKeys = readWechatKeys(simDataDir);
    this.forgedAlipay = { ...this.alipayKeys, gatewayPrivateKey: forgedKey };
    this.forgedWechat = { ...this.wechatKeys, platformPrivateKey: forgedKey };
  }

  /** The i-th hostile request (the kinds take turns). */
  make(i: number): HostileRequest {
    const kinds = [
      () => this.fuzzedOrder(),
      () => this.fuzzedRefund(),
      () => this.xmlBomb(),
      () => this.forgedAlipayNotification(),
      () => this.tamperedAlipayNotification(),
      () => this.forgedWechatNotification(),
      () => this.staleWechatNotification(),
      () => this.replayedWechatSignature(),
      () => this.spoofedForwardedFor(),
      () => this.wrongCredentials(),
      () => this.oversized(),
    ];
    return kinds[i % kinds.length]();
  }

  private json(headers: Record<string, string> = {}): Record<string, string> {
    return { 'content-type': 'application/json', ...headers };
  }

  private fuzzedOrder(): HostileRequest {
    const bodies: (() => Buffer)[] = [
      () => Buffer.from(`{"merchantOrderNo": "HOSTILE-${alnum(8)}", "amount": `),
      () =>
        Buffer.from(
          JSON.stringify({ merchantOrderNo: `HOSTILE-${alnum(8)}`, amount: -5, subject: 'x' }),
        ),
      () =>
        Buffer.from(
          JSON.stringify({ merchantOrderNo: `HOSTILE-${alnum(8)}`, amount: 1.5, subject: 'x' }),
        ),
      () =>
        Buffer.from(
          JSON.stringify({ merchantOrderNo: `HOSTILE-${alnum(8)}`, amount: '100', subject: 'x' }),
        ),
      () =>
        Buffer.from(
          JSON.stringify({ merchantOrderNo: `HOSTILE-${alnum(8)}`, amount: 1e30, subject: 'x' }),
        ),
      () =>
        Buffer.from(
          JSON.stringify({
            merchantOrderNo: `HOSTILE-${alnum(8)}`,
            amount: 100,
            subject: 'x',
            isAdmin: true,
          }),
        ),
      () =>
        Buffer.from(
          JSON.stringify({
            merchantOrderNo: `HOSTILE-${alnum(8)}`,
            amount: 100,
            subject: 'x'.repeat(10_000),
          }),
        ),
      () =>
        Buffer.from(JSON.stringify({ merchantOrderNo: { $gt: '' }, amount: 100, subject: 'x' })),
      () => Buffer.from(JSON.stringify([{ merchantOrderNo: `HOSTILE-${alnum(8)}`, amount: 100 }])),
      () => deepJson(5000),
      () => Buffer.from('\u0000\u0001\u0002 not json at all'),
    ];
    return {
      kind: 'fuzzed JSON (orders)',
      method: 'POST',
      path: '/api/orders',
      headers: this.json({ authorization: `Bearer ${this.merchantKey}` }),
      body: bodies[randomInt(bodies.length)](),
      refused: fourXX,
    };
  }

  private fuzzedRefund(): HostileRequest {
    const target = pick(this.paid()) ?? pick(this.decoys())!;
    const bodies = [
      { merchantRefundNo: `HOSTILE-${alnum(8)}`, amount: 0 },
      { merchantRefundNo: `HOSTILE-${alnum(8)}`, amount: target.amountFen + 1 },
      { merchantRefundNo: `HOSTILE-${alnum(8)}`, amount: -1 },
      { merchantRefundNo: `HOSTILE-${alnum(8)}`, amount: '1' },
      { merchantRefundNo: `HOSTILE ${'x'.repeat(200)}`, amount: 1 },
      { merchantRefundNo: `HOSTILE-${alnum(8)}`, amount: 1, status: 'SUCCEEDED' },
    ];
    return {
      kind: 'fuzzed JSON (refunds)',
      method: 'POST',
      path: `/api/orders/${target.orderId}/refunds`,
      headers: this.json({ authorization: `Bearer ${this.merchantKey}` }),
      body: Buffer.from(JSON.stringify(bodies[randomInt(bodies.length)])),
      refused: fourXX,
    };
  }

  private xmlBomb(): HostileRequest {
    const paths = [
      '/notify/wechat/v2',
      '/notify/wechat/v2/refund',
      '/notify/wechat/v3',
      '/notify/alipay',
    ];
    const path = paths[randomInt(paths.length)];
    return {
      kind: 'XML bomb',
      method: 'POST',
      path,
      headers: { 'content-type': 'text/xml' },
      body: billionLaughs(),
      refused: path === '/notify/alipay' ? alipayRefused : fourXX,
    };
  }

  private alipayDecoy(): Target | undefined {
    return pick(this.decoys().filter((d) => d.channel === 'alipay'));
  }

  private wechatDecoy(): Target | undefined {
    return pick(this.decoys().filter((d) => d.channel === 'wechat'));
  }

  private alipayForm(fields: Record<string, string>): HostileRequest {
    return {
      kind: '',
      method: 'POST',
      path: '/notify/alipay',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: Buffer.from(formEncode(fields)),
      refused: alipayRefused,
    };
  }

  private forgedAlipayNotification(): HostileRequest {
    const d = this.alipayDecoy()!;
    const fields = signedPaidNotification(fixture(d), this.forgedAlipay, new Date());
    return { ...this.alipayForm(fields), kind: 'forged signature (Alipay)' };
  }

  /** Validly signed with the channel's key, but for another amount or another app. */
  private tamperedAlipayNotification(): HostileRequest {
    const d = this.alipayDecoy()!;
    const wrongApp = Math.random() < 0.5;
    const keys = wrongApp ? { ...this.alipayKeys, appId: '2021000000000000' } : this.alipayKeys;
    const fields = signedPaidNotification(
      { ...fixture(d), amountFen: wrongApp ? d.amountFen : d.amountFen + 1 },
      keys,
      new Date(),
    );
    return {
      ...this.alipayForm(fields),
      kind: wrongApp ? 'signed for another app (Alipay)' : 'signed with a wrong amount (Alipay)',
    };
  }

  private wechat(body: Buffer, headers: Record<string, string>, kind: string): HostileRequest {
    return { kind, method: 'POST', path: '/notify/wechat/v3', headers, body, refused: fourXX };
  }

  private forgedWechatNotification(): HostileRequest {
    const d = this.wechatDecoy()!;
    const body = wechatNotificationBody(fixture(d), this.wechatKeys, new Date());
    return this.wechat(
      body,
      signWechatBody(body, this.forgedWechat, new Date()),
      'forged signature (WeChat v3)',
    );
  }

  private staleWechatNotification(): HostileRequest {
    const d = this.wechatDecoy()!;
    const then = new Date(Date.now() - randomInt(6, 60) * 60_000);
    const body = wechatNotificationBody(fixture(d), this.wechatKeys, then);
    return this.wechat(body, signWechatBody(body, this.wechatKeys, then), 'stale v3 timestamp');
  }

  /** A genuine signature, made for one body, sent with another. */
  private replayedWechatSignature(): HostileRequest {
    const d = this.wechatDecoy()!;
    const genuine = wechatNotificationBody(
      { ...fixture(d), outTradeNo: `X${alnum(20)}` },
      this.wechatKeys,
      new Date(),
    );
    const headers = signWechatBody(genuine, this.wechatKeys, new Date());
    const body = wechatNotificationBody(fixture(d), this.wechatKeys, new Date());
    return this.wechat(body, headers, 'replayed signature (WeChat v3)');
  }

  /**
   * Validly signed (as if the keys had leaked) but from outside the notify
   * allowlist, claiming in X-Forwarded-For to come from elsewhere: refused 403.
   */
  private spoofedForwardedFor(): HostileRequest {
    const xff = { 'x-forwarded-for': OUTSIDER() };
    if (Math.random() < 0.5) {
      const d = this.alipayDecoy()!;
      const fields = signedPaidNotification(fixture(d), this.alipayKeys, new Date());
      const req = this.alipayForm(fields);
      return {
        ...req,
        kind: 'spoofed X-Forwarded-For',
        headers: { ...req.headers, ...xff },
        direct: true,
        refused: (s) => s === 403,
      };
    }
    const d = this.wechatDecoy()!;
    const body = wechatNotificationBody(fixture(d), this.wechatKeys, new Date());
    return {
      ...this.wechat(
        body,
        { ...signWechatBody(body, this.wechatKeys, new Date()), ...xff },
        'spoofed X-Forwarded-For',
      ),
      direct: true,
      refused: (s) => s === 403,
    };
  }

  private wrongCredentials(): HostileRequest {
    const target = pick(this.paid()) ?? pick(this.decoys())!;
    const refund = Buffer.from(
      JSON.stringify({ merchantRefundNo: `HOSTILE-${alnum(8)}`, amount: 1 }),
    );
    const cases: HostileRequest[] = [
      {
        kind: 'wrong credentials',
        method: 'POST',
        path: `/api/orders/${target.orderId}/refunds`,
        headers: this.json({ authorization: `Bearer mk_${alnum(30)}` }),
        body: refund,
        refused: (s) => s === 401,
      },
      {
        kind: 'wrong credentials',
        method: 'POST',
        path: `/api/orders/${target.orderId}/refunds`,
        headers: this.json({ authorization: `Bearer ${this.adminKey}` }),
        body: refund,
        refused: (s) => s === 401 || s === 403,
      },
      {
        kind: 'wrong credentials',
        method: 'POST',
        path: `/api/orders/${target.orderId}/refunds`,
        headers: this.json({ 'x-client-secret': target.clientSecret }),
        body: refund,
        refused: (s) => s === 403,
      },
      {
        kind: 'wrong credentials',
        method: 'POST',
        path: `/api/orders/${target.orderId}/close`,
        headers: this.json(),
        body: Buffer.from('{}'),
        refused: (s) => s === 401,
      },
      {
        kind: 'wrong credentials',
        method: 'GET',
        path: '/admin/orders',
        headers: { authorization: `Bearer ${this.merchantKey}` },
        refused: (s) => s === 401 || s === 403,
      },
      {
        kind: 'wrong credentials',
        method: 'GET',
        path: `/api/orders/${target.orderId}`,
        headers: { 'x-client-secret': `cs_${alnum(40)}` },
        refused: (s) => s === 401 || s === 403,
      },
      {
        kind: 'wrong credentials',
        method: 'POST',
        path: '/api/orders',
        headers: this.json({
          authorization: `Basic ${Buffer.from('root:root').toString('base64')}`,
        }),
        body: Buffer.from(
          JSON.stringify({ merchantOrderNo: `HOSTILE-${alnum(8)}`, amount: 100, subject: 'x' }),
        ),
        refused: (s) => s === 401,
      },
    ];
    return cases[randomInt(cases.length)];
  }

  private oversized(): HostileRequest {
    const path = Math.random() < 0.5 ? '/api/orders' : '/notify/wechat/v3';
    return {
      kind: 'oversized body',
      method: 'POST',
      path,
      headers: this.json({ authorization: `Bearer ${this.merchantKey}` }),
      body: Buffer.alloc(256 * 1024, 0x61),
      refused: fourXX,
    };
  }
}

function pick<T>(items: T[]): T | undefined {
  return items.length === 0 ? undefined : items[randomInt(items.length)];
}
