import { qrSvg } from '../src/checkout/qr-code';
import { escapeHtml } from '../src/common/http/html';
import { eventually, orderStatus } from './support/alipay-sandbox';
import {
  CheckoutOrder,
  USER_AGENTS,
  attemptsOf,
  checkoutPath,
  createOrder,
  expire,
} from './support/checkout';
import { TestApp, startApp } from './support/test-app';

/** The hosted checkout page as HTTP sees it; test/checkout.browser.e2e-spec.ts drives it in Chromium. */
describe('hosted checkout page (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.close();
  });

  const open = (
    order: CheckoutOrder,
    userAgent = USER_AGENTS.desktop,
    extra = '',
    language = 'en-US,en;q=0.9',
  ) =>
    t.http
      .get(checkoutPath(order, extra))
      .set('User-Agent', userAgent)
      .set('Accept-Language', language);

  const statusOf = (order: { id: string }, secret?: string) => {
    const req = t.http.get(`/checkout/${order.id}/status`);
    return secret === undefined ? req : req.set('X-Client-Secret', secret);
  };

  /** What no answer about an order may show without its secret. */
  const expectNothingOf = (text: string, order: CheckoutOrder, subject = 'Blue mug') => {
    expect(text).not.toContain(subject);
    expect(text).not.toContain('88.80');
    expect(text).not.toContain(order.merchantOrderNo);
    expect(text).not.toContain(order.clientSecret);
  };

  describe('on a desktop', () => {
    it('shows the subject, the amount in yuan and a QR code per channel; a reload makes no new attempt', async () => {
      const order = await createOrder(t);
      const first = await open(order).expect(200);
      expect(first.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(first.text).toContain('<html lang="en">');
      expect(first.text).toContain('<h1>Blue mug</h1>');
      expect(first.text).toContain('¥88.80');
      expect(first.text).toContain('role="tablist"');

      const attempts = await attemptsOf(t, order.id);
      expect(attempts.map((a) => `${a.channel}/${a.method}`)).toEqual(['alipay/qr', 'wechat/qr']);
      for (const attempt of attempts) {
        // The QR code is the qrcode library's drawing of the channel's code, inline.
        expect(first.text).toContain(await qrSvg(attempt.action.qrCode!));
        expect(attempt.action.qrCode).toBe(
          `${t.url}/sandbox/${attempt.channel}/cashier/${attempt.outTradeNo}`,
        );
        // In the sandbox the code also opens as a link, for a person without a phone.
        expect(first.text).toContain(`href="${attempt.action.qrCode}"`);
      }

      const again = await open(order).expect(200);
      expect(await attemptsOf(t, order.id)).toEqual(attempts);
      for (const attempt of attempts)
        expect(again.text).toContain(await qrSvg(attempt.action.qrCode!));
    });

    it('never puts the client secret in the page', async () => {
      const order = await createOrder(t);
      const res = await open(order).expect(200);
      expect(res.text).not.toContain(order.clientSecret);
    });

    it('answers with a strict CSP: the one script by nonce, styles from paygate, no framing', async () => {
      const order = await createOrder(t);
      const res = await open(order).expect(200);
      const csp = res.headers['content-security-policy'];
      const nonce = /script-src 'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
      expect(nonce).toBeTruthy();
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("form-action 'none'");
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('strict-origin');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['x-content-type-options']).toBe('nosniff');

      const scripts = [...res.text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts).toHaveLength(1);
      expect(scripts[0][2]).toBe('');
      expect(scripts[0][1]).toContain(`nonce="${nonce}"`);
      expect(scripts[0][1]).toMatch(/src="\/checkout\/assets\/checkout\.js\?v=[0-9a-f]{16}"/);
      expect(res.text).not.toMatch(/\sstyle=|\son[a-z]+=/i);
      // Every asset is paygate's own: no CDN.
      const assetUrls = [...res.text.matchAll(/<(?:script|link)\b[^>]*(?:src|href)="([^"]+)"/g)];
      expect(assetUrls.map((m) => m[1].startsWith('/checkout/assets/'))).toEqual([true, true]);
      // A second answer has a nonce of its own.
      const other = await open(order).expect(200);
      expect(other.headers['content-security-policy']).not.toBe(csp);
    });

    it('serves its stylesheet and script itself, cached by content hash', async () => {
      const order = await createOrder(t);
      const page = await open(order).expect(200);
      const css = /href="(\/checkout\/assets\/checkout\.css\?v=[0-9a-f]+)"/.exec(page.text)![1];
      const js = /src="(\/checkout\/assets\/checkout\.js\?v=[0-9a-f]+)"/.exec(page.text)![1];
      const style = await t.http.get(css).expect(200);
      expect(style.headers['content-type']).toBe('text/css; charset=utf-8');
      expect(style.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      const script = await t.http.get(js).expect(200);
      expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
      expect(script.text).toContain('X-Client-Secret');
      await t.http
        .get('/checkout/assets/checkout.js')
        .expect(200)
        .expect('cache-control', 'no-cache');
      await t.http
        .get('/checkout/assets/checkout.js')
        .set('If-None-Match', script.headers.etag)
        .expect(304);
      await t.http.get('/checkout/assets/other.js').expect(404);
    });
  });

  describe('on a phone', () => {
    it('links to Alipay wap and WeChat h5, sending the buyer back to the returnUrl', async () => {
      const returnUrl = 'https://shop.example.com/orders/1?paid=1';
      const order = await createOrder(t, { returnUrl });
      const res = await open(order, USER_AGENTS.iPhone, '', 'zh-CN,zh;q=0.9').expect(200);
      expect(res.text).toContain('<html lang="zh-CN">');
      expect(res.text).toContain('应付金额');
      expect(res.text).not.toContain('<svg');
      const attempts = await attemptsOf(t, order.id);
      expect(attempts.map((a) => `${a.channel}/${a.method}`)).toEqual(['alipay/wap', 'wechat/h5']);
      const [wap, h5] = attempts;
      expect(wap.returnUrl).toBe(returnUrl);
      expect(h5.returnUrl).toBe(returnUrl);
      expect(h5.clientIp).toBe('127.0.0.1');
      expect(res.text).toContain(`id="pay-alipay-wap" href="${escapeHtml(wap.action.url!)}"`);
      expect(res.text).toContain(`id="pay-wechat-h5" href="${escapeHtml(h5.action.url!)}"`);
      // The paid section already holds the way back, hidden until the order is paid.
      expect(res.text).toContain(`id="return-link" href="${escapeHtml(returnUrl)}"`);
    });

    it("inside Alipay's app: Alipay only", async () => {
      const order = await createOrder(t);
      const res = await open(order, USER_AGENTS.alipay).expect(200);
      expect(res.text).toContain('id="pay-alipay-wap"');
      expect(res.text).not.toContain('WeChat');
      expect((await attemptsOf(t, order.id)).map((a) => a.method)).toEqual(['wap']);
    });
  });

  describe("inside WeChat's browser", () => {
    it('without an openid: the WeChat QR code, no Alipay, and the hint to open a browser', async () => {
      const order = await createOrder(t);
      const res = await open(order, USER_AGENTS.wechat, '', 'zh-CN').expect(200);
      expect((await attemptsOf(t, order.id)).map((a) => `${a.channel}/${a.method}`)).toEqual([
        'wechat/qr',
      ]);
      expect(res.text).toContain('id="panel-wechat"');
      expect(res.text).not.toContain('id="panel-alipay"');
      expect(res.text).not.toContain('role="tablist"');
      expect(res.text).toContain('在浏览器打开');
    });

    it('with an openid: the JSAPI button carrying the parameters WeixinJSBridge takes', async () => {
      const order = await createOrder(t);
      const res = await open(order, USER_AGENTS.wechat, '&openid=oUpF8uMuAJO_M2pxb1Q9zNjWeS6o');
      expect(res.status).toBe(200);
      const [jsapi] = await attemptsOf(t, order.id);
      expect(jsapi).toMatchObject({ channel: 'wechat', method: 'jsapi' });
      expect(jsapi.openid).toBe('oUpF8uMuAJO_M2pxb1Q9zNjWeS6o');
      const params = /id="pay-wechat-jsapi" data-params="([^"]+)"/.exec(res.text)![1];
      expect(JSON.parse(htmlUnescape(params))).toEqual(jsapi.action.params);
      expect(jsapi.action.params).toMatchObject({ signType: 'RSA', package: /^prepay_id=/ });
      expect(res.text).not.toContain('pay-alipay');
      expect(res.text).not.toContain('panel-alipay');
    });

    it('a malformed openid is a 400 naming it, and nothing is attempted', async () => {
      const order = await createOrder(t);
      const res = await open(order, USER_AGENTS.wechat, '&openid=%3Cscript%3E').expect(400);
      expect(res.text).toContain('openid');
      expectNothingOf(res.text, order);
      expect(await attemptsOf(t, order.id)).toEqual([]);
    });
  });

  describe('without the right secret, or after the order ended', () => {
    it('a wrong, missing or foreign secret and an unknown order all get the same 404, with nothing of the order', async () => {
      const order = await createOrder(t);
      const other = await createOrder(t, { subject: 'Red mug' });
      const answers = await Promise.all(
        [
          `/checkout/${order.id}?cs=cs_${'x'.repeat(40)}`,
          `/checkout/${order.id}`,
          `/checkout/${order.id}?cs=${other.clientSecret}`,
          `/checkout/${order.id}?cs=${order.clientSecret}&cs=${order.clientSecret}`,
          `/checkout/ord_${'0'.repeat(24)}?cs=${order.clientSecret}`,
          `/checkout/not-an-id?cs=${order.clientSecret}`,
        ].map((path) => t.http.get(path).set('Accept-Language', 'en')),
      );
      for (const res of answers) {
        expect(res.status).toBe(404);
        expect(res.text).toContain('Order not found');
        expectNothingOf(res.text, order);
        expect(res.text).not.toContain(order.id);
        expect(res.text).not.toContain('<script');
        expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      }
      expect(new Set(answers.map((r) => r.text)).size).toBe(1);
      expect(await attemptsOf(t, order.id)).toEqual([]);
    });

    it('an expired order is a 410 that says so, with nothing of the order', async () => {
      const order = await createOrder(t);
      await expire(t, order.id);
      const res = await open(order).expect(410);
      expect(res.text).toContain('This order has expired');
      expectNothingOf(res.text, order);
      // A wrong secret still learns nothing, not even that it expired.
      const wrong = await t.http
        .get(`/checkout/${order.id}?cs=cs_${'y'.repeat(40)}`)
        .set('Accept-Language', 'en')
        .expect(404);
      expect(wrong.text).not.toContain('expired');
      expect(await attemptsOf(t, order.id)).toEqual([]);
    });

    it('a closed order is a 410 that says so', async () => {
      const order = await createOrder(t);
      await t.http.post(`/api/orders/${order.id}/close`).set(t.merchant).expect(200);
      const res = await open(order, USER_AGENTS.iPhone, '', 'zh-CN').expect(410);
      expect(res.text).toContain('订单已关闭');
      expectNothingOf(res.text, order);
    });
  });

  describe('a paid order', () => {
    it('shows that it is paid, offers no way to pay, and links back to the shop', async () => {
      const order = await createOrder(t, { returnUrl: 'https://shop.example.com/thanks' });
      await open(order).expect(200);
      const [alipay] = await attemptsOf(t, order.id);
      await t.http
        .post(`/sandbox/alipay/control/trades/${alipay.outTradeNo}/pay`)
        .send({})
        .expect(200);
      await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'));
      const res = await open(order).expect(200);
      expect(res.text).toContain('data-state="paid"');
      expect(res.text).toMatch(
        /<section class="outcome outcome-paid" id="state-paid"[^>]*tabindex="-1">/,
      );
      expect(res.text).toMatch(/<section id="pay" [^>]*hidden>/);
      expect(res.text).not.toContain('<svg');
      expect(res.text).toContain('href="https://shop.example.com/thanks"');
    });
  });

  describe('the status the page polls', () => {
    it('answers pending, then paid, with the secret in X-Client-Secret', async () => {
      const order = await createOrder(t);
      await open(order).expect(200);
      const res = await statusOf(order, order.clientSecret).expect(200);
      expect(res.body).toEqual({ status: 'pending' });
      expect(res.headers['cache-control']).toBe('no-store');
      const [alipay] = await attemptsOf(t, order.id);
      await t.http
        .post(`/sandbox/alipay/control/trades/${alipay.outTradeNo}/pay`)
        .send({})
        .expect(200);
      await eventually(async () =>
        expect((await statusOf(order, order.clientSecret)).body).toEqual({ status: 'paid' }),
      );
    });

    it('answers expired and closed', async () => {
      const expired = await createOrder(t);
      await expire(t, expired.id);
      expect((await statusOf(expired, expired.clientSecret).expect(200)).body).toEqual({
        status: 'expired',
      });
      const closed = await createOrder(t);
      await t.http.post(`/api/orders/${closed.id}/close`).set(t.merchant).expect(200);
      expect((await statusOf(closed, closed.clientSecret).expect(200)).body).toEqual({
        status: 'closed',
      });
    });

    it('is a 404 without the secret, with a wrong one, or for an unknown order', async () => {
      const order = await createOrder(t);
      for (const res of [
        await statusOf(order),
        await statusOf(order, 'cs_wrong'),
        await statusOf(order, `cs_${'z'.repeat(40)}`),
        await statusOf({ id: `ord_${'1'.repeat(24)}` }, order.clientSecret),
        await t.http.get(`/checkout/${order.id}/status?cs=${order.clientSecret}`),
      ]) {
        expect(res.status).toBe(404);
        expect(res.body).toMatchObject({ statusCode: 404, code: 'ORDER_NOT_FOUND' });
        expect(JSON.stringify(res.body)).not.toContain('pending');
      }
    });
  });

  describe('what the page shows from outside', () => {
    it('escapes the subject', async () => {
      const subject = `<img src=x onerror="alert(1)"> & 'mug'`;
      const order = await createOrder(t, { subject });
      const res = await open(order).expect(200);
      expect(res.text).not.toContain('<img src=x');
      expect(res.text).toContain(
        '<h1>&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &#39;mug&#39;</h1>',
      );
    });

    it('speaks Chinese or English by Accept-Language, Chinese by default', async () => {
      const order = await createOrder(t);
      expect((await open(order, USER_AGENTS.desktop, '', 'en-GB').expect(200)).text).toContain(
        'Amount due',
      );
      const zh = await t.http
        .get(checkoutPath(order))
        .set('User-Agent', USER_AGENTS.desktop)
        .expect(200);
      expect(zh.text).toContain('<html lang="zh-CN">');
      expect(zh.text).toContain('打开支付宝，扫一扫付款');
      expect(zh.headers.vary).toContain('Accept-Language');
    });
  });
});

describe('hosted checkout page rate limits (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.close();
  });

  // All at once, so that the buckets barely refill meanwhile, however slow the database.
  const burst = (path: string, n: number, lang?: string) =>
    Promise.all(
      Array.from({ length: n }, () => {
        const req = t.http.get(path);
        return lang ? req.set('Accept-Language', lang) : req;
      }),
    );

  it('the page: 30 at once from one address, then 429 with Retry-After', async () => {
    const answers = await burst(
      `/checkout/ord_${'2'.repeat(24)}?cs=cs_${'a'.repeat(40)}`,
      40,
      'en',
    );
    const served = answers.filter((r) => r.status === 404).length;
    const refused = answers.filter((r) => r.status === 429);
    expect(served).toBeGreaterThanOrEqual(30);
    expect(served + refused.length).toBe(40);
    expect(refused.length).toBeGreaterThan(0);
    expect(Number(refused[0].headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(refused[0].headers['content-type']).toBe('text/html; charset=utf-8');
    expect(refused[0].text).toContain('Too many requests');
  });

  it('the status: 60 at once, then 429 TOO_MANY_REQUESTS', async () => {
    const answers = await burst(`/checkout/ord_${'3'.repeat(24)}/status`, 90);
    const served = answers.filter((r) => r.status === 404).length;
    const refused = answers.filter((r) => r.status === 429);
    expect(served).toBeGreaterThanOrEqual(60);
    expect(served + refused.length).toBe(90);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0].body).toMatchObject({ statusCode: 429, code: 'TOO_MANY_REQUESTS' });
    expect(Number(refused[0].headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });
});

const htmlUnescape = (s: string): string =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
