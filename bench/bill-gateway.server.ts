/**
 * The channel side of bench/reconcile: a plain node:http server that answers the
 * calls a reconciliation run makes, for one bill date, as Alipay and WeChat Pay
 * APIv3 would (protocols.md A4, A7, C2, C4), with a bill file the bench wrote:
 *
 * - Alipay `gateway.do`: alipay.data.dataservice.bill.downloadurl.query (a URL
 *   to the zip; `isp.bill_not_exist` for any other date) and alipay.trade.query
 *   (TRADE_SUCCESS for the trades the bench says were paid unnoticed, else
 *   ACQ.TRADE_NOT_EXIST), answers signed RSA2 with the gateway key;
 * - WeChat Pay: GET /v3/bill/tradebill (hash_value, download_url), the download
 *   itself (unsigned, as WeChat's is), and the order query, signed with the
 *   platform key.
 *
 * Configured by BENCH_GW_* variables; written independently of src/.
 */
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { IncomingMessage, ServerResponse, createServer } from 'node:http';
import { rsa2Sign, yuan } from './support/alipay-bench';
import { rfc3339Beijing, signedMessage } from './support/wechat-bench';

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};

const PORT = Number(env('BENCH_GW_PORT'));
const BILL_DATE = env('BENCH_GW_BILL_DATE');
const ALIPAY_BILL = process.env.BENCH_GW_ALIPAY_BILL;
const WECHAT_BILL = process.env.BENCH_GW_WECHAT_BILL;
const WECHAT_SHA1 = process.env.BENCH_GW_WECHAT_SHA1 ?? '';
const ALIPAY_KEY = process.env.BENCH_GW_ALIPAY_KEY_FILE
  ? createPrivateKey(readFileSync(process.env.BENCH_GW_ALIPAY_KEY_FILE, 'utf8'))
  : undefined;
const WECHAT_KEY = process.env.BENCH_GW_WECHAT_KEY_FILE
  ? createPrivateKey(readFileSync(process.env.BENCH_GW_WECHAT_KEY_FILE, 'utf8'))
  : undefined;
const WECHAT_KEY_ID = process.env.BENCH_GW_WECHAT_KEY_ID ?? '';
const WECHAT_IDS = {
  appid: process.env.BENCH_GW_WECHAT_APPID ?? '',
  mchid: process.env.BENCH_GW_WECHAT_MCHID ?? '',
};
/** out_trade_no → fen: trades paid at the channel that paygate holds as unpaid. */
const PAID: Record<string, number> = process.env.BENCH_GW_PAID_FILE
  ? (JSON.parse(readFileSync(process.env.BENCH_GW_PAID_FILE, 'utf8')) as Record<string, number>)
  : {};
const base = `http://127.0.0.1:${PORT}`;
const counts = { billUrl: 0, download: 0, query: 0 };

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function alipayAnswer(res: ServerResponse, method: string, payload: Record<string, unknown>): void {
  const content = JSON.stringify(payload);
  const signature = rsa2Sign(content, ALIPAY_KEY!);
  const body = `{"${method.replace(/\./g, '_')}_response":${content},"sign":"${signature}"}`;
  res.writeHead(200, { 'content-type': 'application/json;charset=utf-8' });
  res.end(body);
}

async function alipay(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const params = new URLSearchParams(await readBody(req));
  const method = params.get('method') ?? '';
  const biz = JSON.parse(params.get('biz_content') ?? '{}') as Record<string, string>;
  if (method === 'alipay.data.dataservice.bill.downloadurl.query') {
    counts.billUrl++;
    if (biz.bill_date !== BILL_DATE || !ALIPAY_BILL) {
      return alipayAnswer(res, method, {
        code: '40004',
        msg: 'Business Failed',
        sub_code: 'isp.bill_not_exist',
        sub_msg: '账单不存在',
      });
    }
    return alipayAnswer(res, method, {
      code: '10000',
      msg: 'Success',
      bill_download_url: `${base}/alipay-bill/${randomBytes(8).toString('hex')}.zip`,
    });
  }
  if (method === 'alipay.trade.query') {
    counts.query++;
    const amount = PAID[biz.out_trade_no];
    if (amount === undefined) {
      return alipayAnswer(res, method, {
        code: '40004',
        msg: 'Business Failed',
        sub_code: 'ACQ.TRADE_NOT_EXIST',
        sub_msg: '交易不存在',
      });
    }
    return alipayAnswer(res, method, {
      code: '10000',
      msg: 'Success',
      trade_no: `2026${biz.out_trade_no.slice(-24)}`,
      out_trade_no: biz.out_trade_no,
      trade_status: 'TRADE_SUCCESS',
      total_amount: yuan(amount),
      send_pay_date: '2026-01-01 12:00:00',
    });
  }
  res.writeHead(400).end(`the bench gateway does not answer ${method}`);
}

function wechatAnswer(res: ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = randomBytes(16).toString('hex');
  const signature = sign(
    'sha256',
    Buffer.from(signedMessage(timestamp, nonce, body), 'utf8'),
    WECHAT_KEY!,
  ).toString('base64');
  res.writeHead(status, {
    'content-type': 'application/json',
    'wechatpay-timestamp': timestamp,
    'wechatpay-nonce': nonce,
    'wechatpay-signature': signature,
    'wechatpay-serial': WECHAT_KEY_ID,
  });
  res.end(body);
}

function sendFile(res: ServerResponse, path: string, type: string): void {
  res.writeHead(200, { 'content-type': type, 'content-length': statSync(path).size });
  createReadStream(path).pipe(res);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', base);
  if (req.method === 'GET' && url.pathname === '/health') return void res.writeHead(200).end('ok');
  if (req.method === 'GET' && url.pathname === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return void res.end(JSON.stringify(counts));
  }
  if (url.pathname === '/gateway.do') return alipay(req, res);
  if (req.method === 'GET' && url.pathname.startsWith('/alipay-bill/') && ALIPAY_BILL) {
    counts.download++;
    return sendFile(res, ALIPAY_BILL, 'application/zip');
  }
  if (req.method === 'GET' && url.pathname === '/v3/bill/tradebill') {
    counts.billUrl++;
    if (url.searchParams.get('bill_date') !== BILL_DATE || !WECHAT_BILL) {
      return wechatAnswer(res, 400, { code: 'NO_STATEMENT_EXIST', message: '账单不存在' });
    }
    return wechatAnswer(res, 200, {
      hash_type: 'SHA1',
      hash_value: WECHAT_SHA1,
      download_url: `${base}/v3/billdownload/file?token=${randomBytes(8).toString('hex')}`,
    });
  }
  if (req.method === 'GET' && url.pathname === '/v3/billdownload/file' && WECHAT_BILL) {
    counts.download++;
    return sendFile(res, WECHAT_BILL, 'application/x-gzip');
  }
  const query = /^\/v3\/pay\/transactions\/out-trade-no\/([0-9A-Za-z]{1,32})$/.exec(url.pathname);
  if (req.method === 'GET' && query) {
    counts.query++;
    const amount = PAID[query[1]];
    if (amount === undefined)
      return wechatAnswer(res, 404, { code: 'ORDER_NOT_EXIST', message: '订单不存在' });
    return wechatAnswer(res, 200, {
      ...WECHAT_IDS,
      out_trade_no: query[1],
      transaction_id: `4200${query[1].slice(-24)}`,
      trade_type: 'NATIVE',
      trade_state: 'SUCCESS',
      trade_state_desc: '支付成功',
      bank_type: 'OTHERS',
      success_time: rfc3339Beijing(new Date()),
      payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
      amount: { total: amount, payer_total: amount, currency: 'CNY', payer_currency: 'CNY' },
    });
  }
  res.writeHead(404).end('not a bench gateway path');
}

createServer((req, res) => {
  handle(req, res).catch((error: Error) => {
    res.writeHead(500).end(error.message);
  });
}).listen(PORT, '127.0.0.1');
