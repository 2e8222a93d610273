import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AlipaySdk } from 'alipay-sdk';
import {
  generateRsaKeyPairPem,
  parsePrivateKey,
  parsePublicKey,
  rsaSha256Sign,
  rsaSha256Verify,
} from '../../../common/crypto/rsa-keys';
import { AlipayClient, AlipayGatewayError, type AlipayClientOptions } from './alipay.client';
import { alipaySignContent } from './alipay.signer';

const APP_ID = '2021000000000000';
const NOTIFY_URL = 'https://pay.example.com/notifications/alipay';

const appPair = generateRsaKeyPairPem();
const alipayPair = generateRsaKeyPairPem();
const appKey = parsePrivateKey(appPair.privateKeyPem, 'APP_KEY');
const appPub = parsePublicKey(appPair.publicKeyPem, 'APP_PUB');
const alipayKey = parsePrivateKey(alipayPair.privateKeyPem, 'ALIPAY_KEY');
const alipayPub = parsePublicKey(alipayPair.publicKeyPem, 'ALIPAY_PUB');
const strangerKey = parsePrivateKey(generateRsaKeyPairPem().privateKeyPem, 'STRANGER');

/** The SDK judges what the app signed: its "Alipay public key" is our app public key. */
const sdkJudge = new AlipaySdk({
  appId: APP_ID,
  privateKey: alipayPair.privateKeyPem,
  keyType: 'PKCS8',
  alipayPublicKey: appPair.publicKeyPem,
});

const PRECREATE = {
  out_trade_no: 'T20240101001',
  total_amount: '88.80',
  subject: '咖啡 & 茶 50%',
};

interface SeenRequest {
  method?: string;
  contentType?: string;
  params: Record<string, string>;
  signatureOk: boolean;
}

interface FakeGateway {
  url: string;
  port: number;
  requests: SeenRequest[];
  close(): Promise<void>;
}

type Reply = (req: SeenRequest, res: ServerResponse) => void;

const servers: Server[] = [];

function listen(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

async function startGateway(reply: Reply, port = 0): Promise<FakeGateway> {
  const requests: SeenRequest[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const params = Object.fromEntries(
        new URLSearchParams(Buffer.concat(chunks).toString('utf8')),
      );
      const seen: SeenRequest = {
        method: req.method,
        contentType: req.headers['content-type'],
        params,
        signatureOk: sdkJudge.checkNotifySignV2({ ...params }),
      };
      requests.push(seen);
      reply(seen, res);
    });
  });
  servers.push(server);
  const actual = await listen(server, port);
  return {
    url: `http://127.0.0.1:${actual}/gateway.do`,
    port: actual,
    requests,
    close: () => closeServer(server),
  };
}

/** Signs the exact response text the way the gateway does (A4). */
function signedBody(responseKey: string, content: string, key = alipayKey): string {
  return `{"${responseKey}":${content},"sign":"${rsaSha256Sign(content, key)}"}`;
}

function json(res: ServerResponse, body: string, status = 200): void {
  res.writeHead(status, { 'content-type': 'text/html;charset=utf-8' });
  res.end(body);
}

function newClient(gateway: string, overrides: Partial<AlipayClientOptions> = {}) {
  const lines: Array<{ level: 'log' | 'warn' | 'error'; msg: string }> = [];
  const client = new AlipayClient({
    appId: APP_ID,
    privateKey: appKey,
    alipayPublicKey: alipayPub,
    gateway,
    notifyUrl: NOTIFY_URL,
    logger: {
      log: (msg) => lines.push({ level: 'log', msg }),
      warn: (msg) => lines.push({ level: 'warn', msg }),
      error: (msg) => lines.push({ level: 'error', msg }),
    },
    ...overrides,
  });
  return { client, lines };
}

async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function rejection(promise: Promise<unknown>): Promise<AlipayGatewayError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(AlipayGatewayError);
    return err as AlipayGatewayError;
  }
  throw new Error('expected the call to fail');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function queryParams(url: URL): Record<string, string> {
  return Object.fromEntries(url.searchParams);
}

function appSigned(params: Record<string, string>): boolean {
  return rsaSha256Verify(alipaySignContent(params, ['sign']), params.sign, appPub);
}

afterEach(async () => {
  const open = servers.splice(0).filter((s) => s.listening);
  await Promise.all(open.map((s) => closeServer(s)));
});

describe('AlipayClient.execute', () => {
  it('sends signed common params and returns the verified answer', async () => {
    const content =
      '{"code":"10000","msg":"Success","out_trade_no":"T20240101001","qr_code":"https:\\/\\/qr.alipay.com\\/bax01"}';
    const gateway = await startGateway((_req, res) =>
      json(res, signedBody('alipay_trade_precreate_response', content)),
    );
    const { client, lines } = newClient(gateway.url);

    const result = await client.execute<{ qr_code: string }>('alipay.trade.precreate', PRECREATE);

    expect(result).toEqual({
      code: '10000',
      msg: 'Success',
      subCode: undefined,
      subMsg: undefined,
      body: {
        code: '10000',
        msg: 'Success',
        out_trade_no: 'T20240101001',
        qr_code: 'https://qr.alipay.com/bax01',
      },
    });
    expect(gateway.requests).toHaveLength(1);
    const [seen] = gateway.requests;
    expect(seen.method).toBe('POST');
    expect(seen.contentType).toBe('application/x-www-form-urlencoded;charset=utf-8');
    expect(seen.signatureOk).toBe(true);
    expect(appSigned(seen.params)).toBe(true);
    expect(seen.params).toMatchObject({
      app_id: APP_ID,
      method: 'alipay.trade.precreate',
      format: 'JSON',
      charset: 'utf-8',
      sign_type: 'RSA2',
      version: '1.0',
      notify_url: NOTIFY_URL,
      biz_content: JSON.stringify(PRECREATE),
    });
    // Sent in Beijing time: read back as UTC+8, it must be within a minute of now.
    const sentAt = Date.parse(`${seen.params.timestamp.replace(' ', 'T')}+08:00`);
    expect(Math.abs(sentAt - Date.now())).toBeLessThan(60_000);

    expect(lines).toHaveLength(1);
    expect(lines[0].level).toBe('log');
    expect(lines[0].msg).toMatch(
      /^alipay\.trade\.precreate out_trade_no=T20240101001 code=10000 sub_code=- \d+ms attempts=1$/,
    );
    expect(lines[0].msg).not.toContain(seen.params.sign.slice(0, 20));
  });

  it('lets one call override notify_url', async () => {
    const gateway = await startGateway((_req, res) =>
      json(res, signedBody('alipay_trade_close_response', '{"code":"10000","msg":"Success"}')),
    );
    const { client } = newClient(gateway.url);
    await client.execute(
      'alipay.trade.close',
      { out_trade_no: 'T1' },
      { notifyUrl: 'https://x.example/n' },
    );
    expect(gateway.requests[0].params.notify_url).toBe('https://x.example/n');
    expect(gateway.requests[0].signatureOk).toBe(true);
  });

  it('returns a signed business failure as a result, logged as a warning', async () => {
    const content =
      '{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在"}';
    const gateway = await startGateway((_req, res) =>
      json(res, signedBody('alipay_trade_query_response', content)),
    );
    const { client, lines } = newClient(gateway.url);
    const result = await client.execute('alipay.trade.query', { out_trade_no: 'T1' });
    expect(result).toMatchObject({
      code: '40004',
      subCode: 'ACQ.TRADE_NOT_EXIST',
      subMsg: '交易不存在',
    });
    expect(lines.map((l) => l.level)).toEqual(['warn']);
    expect(lines[0].msg).toContain('code=40004 sub_code=ACQ.TRADE_NOT_EXIST');
  });

  it('returns an unsigned error_response as an error result', async () => {
    const gateway = await startGateway((_req, res) =>
      json(
        res,
        '{"error_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-signature","sub_msg":"验签出错"}}',
      ),
    );
    const { client } = newClient(gateway.url);
    const result = await client.execute('alipay.trade.query', { out_trade_no: 'T1' });
    expect(result).toMatchObject({
      code: '40002',
      msg: 'Invalid Arguments',
      subCode: 'isv.invalid-signature',
      subMsg: '验签出错',
    });
  });

  it.each([
    [
      'signed with another key',
      signedBody('alipay_trade_query_response', '{"code":"10000","msg":"Success"}', strangerKey),
    ],
    [
      'signed, then altered',
      signedBody(
        'alipay_trade_query_response',
        '{"code":"10000","msg":"Success","trade_status":"WAIT_BUYER_PAY"}',
      ).replace('WAIT_BUYER_PAY', 'TRADE_SUCCESS'),
    ],
    [
      'unsigned but claiming success',
      '{"alipay_trade_query_response":{"code":"10000","msg":"Success"}}',
    ],
    ['not JSON', '<html><body>maintenance</body></html>'],
    ['JSON for another method', signedBody('alipay_trade_pay_response', '{"code":"10000"}')],
    ['signed but without a code', signedBody('alipay_trade_query_response', '{"msg":"Success"}')],
  ])('rejects an answer %s as unverifiable, without retrying', async (_name, body) => {
    const gateway = await startGateway((_req, res) => json(res, body));
    const { client, lines } = newClient(gateway.url);
    const error = await rejection(client.execute('alipay.trade.query', { out_trade_no: 'T1' }));
    expect(error.kind).toBe('unverifiable');
    expect(error.mayHaveReachedAlipay).toBe(true);
    expect(error.attempts).toBe(1);
    expect(gateway.requests).toHaveLength(1);
    expect(lines.map((l) => l.level)).toEqual(['error']);
    expect(lines[0].msg).toMatch(/^alipay\.trade\.query out_trade_no=T1 failed kind=unverifiable/);
  });

  it('reports a non-200 status as http, without retrying', async () => {
    const gateway = await startGateway((_req, res) => json(res, 'Bad Gateway', 502));
    const { client } = newClient(gateway.url);
    const error = await rejection(client.execute('alipay.trade.refund', { out_trade_no: 'T1' }));
    expect(error.kind).toBe('http');
    expect(error.message).toContain('502');
    expect(gateway.requests).toHaveLength(1);
  });

  it('retries a refused connection, then gives up with transport', async () => {
    const port = await freePort();
    const { client, lines } = newClient(`http://127.0.0.1:${port}/gateway.do`, {
      maxConnectRetries: 2,
    });
    const started = Date.now();
    const error = await rejection(client.execute('alipay.trade.query', { out_trade_no: 'T1' }));
    expect(error.kind).toBe('transport');
    expect(error.attempts).toBe(3);
    expect(error.mayHaveReachedAlipay).toBe(false);
    expect(error.message).toContain('ECONNREFUSED');
    expect(Date.now() - started).toBeGreaterThanOrEqual(200 + 400);
    expect(lines).toHaveLength(1);
    expect(lines[0].msg).toMatch(/failed kind=transport.*attempts=3$/);
  });

  it('does not retry at all when maxConnectRetries is 0', async () => {
    const port = await freePort();
    const { client } = newClient(`http://127.0.0.1:${port}/gateway.do`, { maxConnectRetries: 0 });
    const error = await rejection(client.execute('alipay.trade.query', { out_trade_no: 'T1' }));
    expect(error).toMatchObject({ kind: 'transport', attempts: 1 });
  });

  it('succeeds when the gateway comes up between attempts', async () => {
    const port = await freePort();
    const { client } = newClient(`http://127.0.0.1:${port}/gateway.do`, { maxConnectRetries: 2 });
    const call = client.execute('alipay.trade.query', { out_trade_no: 'T1' });
    await sleep(50);
    const gateway = await startGateway(
      (_req, res) =>
        json(res, signedBody('alipay_trade_query_response', '{"code":"10000","msg":"Success"}')),
      port,
    );
    await expect(call).resolves.toMatchObject({ code: '10000' });
    expect(gateway.requests).toHaveLength(1);
  });

  it('gives up on a silent gateway with timeout and does not send the request again', async () => {
    const gateway = await startGateway(() => undefined);
    const { client, lines } = newClient(gateway.url, { timeoutMs: 300, maxConnectRetries: 2 });
    const error = await rejection(client.execute('alipay.trade.refund', { out_trade_no: 'T1' }));
    expect(error.kind).toBe('timeout');
    expect(error.attempts).toBe(1);
    expect(error.mayHaveReachedAlipay).toBe(true);
    await sleep(500);
    expect(gateway.requests).toHaveLength(1);
    expect(lines[0].msg).toMatch(/failed kind=timeout.*attempts=1$/);
  });

  it('times out a gateway that stalls in the middle of the body', async () => {
    const gateway = await startGateway((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html;charset=utf-8' });
      res.write('{"alipay_trade_refund_response":{"code":"10000"');
    });
    const { client } = newClient(gateway.url, { timeoutMs: 300 });
    const error = await rejection(client.execute('alipay.trade.refund', { out_trade_no: 'T1' }));
    expect(error).toMatchObject({ kind: 'timeout', attempts: 1 });
    expect(gateway.requests).toHaveLength(1);
  });

  it('refuses keys of the wrong kind at construction', () => {
    expect(() =>
      newClient('https://openapi.alipay.com/gateway.do', { privateKey: appPub }),
    ).toThrow(TypeError);
    expect(() =>
      newClient('https://openapi.alipay.com/gateway.do', { alipayPublicKey: alipayKey }),
    ).toThrow(TypeError);
  });
});

describe('AlipayClient browser and app strings', () => {
  const gatewayUrl = 'https://openapi-sandbox.dl.alipaydev.com/gateway.do';
  const page = {
    out_trade_no: 'T20240101002',
    total_amount: '0.01',
    subject: '"><script>alert(1)</script>&\'',
    product_code: 'FAST_INSTANT_TRADE_PAY',
  };

  it('pageUrl: every signed param in the query, URL-encoded, verifiable by the SDK', () => {
    const { client } = newClient(gatewayUrl);
    const link = client.pageUrl('alipay.trade.page.pay', page, {
      returnUrl: 'https://shop.example.com/paid?order=1',
    });
    const url = new URL(link);
    expect(`${url.origin}${url.pathname}`).toBe(gatewayUrl);
    expect(link.slice(gatewayUrl.length + 1)).not.toMatch(/[ {}"<>\u4e00-\u9fff]/);
    const params = queryParams(url);
    expect(params).toMatchObject({
      method: 'alipay.trade.page.pay',
      return_url: 'https://shop.example.com/paid?order=1',
      notify_url: NOTIFY_URL,
      biz_content: JSON.stringify(page),
    });
    expect(appSigned(params)).toBe(true);
    expect(sdkJudge.checkNotifySignV2({ ...params })).toBe(true);
  });

  it('appOrderString: the signed set as k=v&…, URL-encoded, verifiable by the SDK', () => {
    const { client } = newClient(gatewayUrl);
    const biz = { ...PRECREATE, product_code: 'QUICK_MSECURITY_PAY' };
    const orderString = client.appOrderString(biz);
    expect(orderString).not.toMatch(/[ {}"\u4e00-\u9fff]/);
    const params = Object.fromEntries(new URLSearchParams(orderString));
    expect(params).toMatchObject({
      method: 'alipay.trade.app.pay',
      app_id: APP_ID,
      notify_url: NOTIFY_URL,
      biz_content: JSON.stringify(biz),
    });
    expect(params.return_url).toBeUndefined();
    expect(orderString.endsWith(`&sign=${encodeURIComponent(params.sign)}`)).toBe(true);
    expect(appSigned(params)).toBe(true);
    expect(sdkJudge.checkNotifySignV2({ ...params })).toBe(true);
  });

  it('pageForm: escapes every value and still carries a verifiable signature', () => {
    const { client } = newClient(gatewayUrl);
    const html = client.pageForm('alipay.trade.wap.pay', page, {
      returnUrl: 'https://shop.example.com/r?a=1&b=2',
    });

    expect(html).not.toContain('<script>alert(1)');
    expect(html).not.toContain('"><');
    expect(html).toContain('&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;&#39;');
    expect(html).toMatch(/<script>document\.forms\["alipaysubmit"\]\.submit\(\);<\/script>$/);

    const unescape = (s: string) =>
      s
        .replace(/&quot;/g, '"')
        .replace(/&#39;/g, "'")
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&amp;/g, '&');
    const action = /<form name="alipaysubmit" action="([^"]*)" method="post"/.exec(html)?.[1];
    expect(action).toBeDefined();
    const fields = [...html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)];
    expect(fields.map((m) => m[1])).toEqual(['biz_content']);

    const params = queryParams(new URL(unescape(action as string)));
    for (const [, name, value] of fields) params[unescape(name)] = unescape(value);
    expect(params.method).toBe('alipay.trade.wap.pay');
    expect(params.return_url).toBe('https://shop.example.com/r?a=1&b=2');
    expect(JSON.parse(params.biz_content)).toEqual(page);
    expect(appSigned(params)).toBe(true);
    expect(sdkJudge.checkNotifySignV2({ ...params })).toBe(true);
  });
});
