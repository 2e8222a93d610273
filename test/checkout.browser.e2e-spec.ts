import { Server, createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { Browser, BrowserContext, BrowserContextOptions, Page, devices } from 'playwright-core';
import { eventually, orderStatus } from './support/alipay-sandbox';
import { launchChromium, screenshot, watchProblems } from './support/chromium';
import {
  CheckoutOrder,
  USER_AGENTS,
  attemptsOf,
  checkoutPath,
  createOrder,
  expire,
} from './support/checkout';
import { ADMIN_KEY, TestApp, startApp } from './support/test-app';

// Chromium shares two cores with the rest of the machine: give each step room.
jest.setTimeout(120_000);

/** The buyer's browsers: a desktop, an iPhone, WeChat's and Alipay's in-app browsers. */
const BROWSERS = {
  desktop: {
    userAgent: USER_AGENTS.desktop,
    viewport: { width: 1280, height: 900 },
    locale: 'en-US',
  },
  iPhone: { ...devices['iPhone 13'], locale: 'zh-CN' },
  wechat: { ...devices['iPhone 13'], userAgent: USER_AGENTS.wechat, locale: 'zh-CN' },
  alipay: { ...devices['Pixel 5'], userAgent: USER_AGENTS.alipay, locale: 'zh-CN' },
} satisfies Record<string, BrowserContextOptions>;

/** Seconds within which the page must show a payment (contract.md). */
const PAID_WITHIN_MS = 3000;

/**
 * The hosted checkout page in headless Chromium, as a buyer uses it: on a desktop,
 * an iPhone, in WeChat and in Alipay; paid in the sandbox; expired, closed and
 * opened with a wrong secret. Then the Swagger UI, authorized with the admin key.
 * Each page's screenshot goes to test-artifacts/screenshots/.
 */
describe('hosted checkout page in Chromium (e2e)', () => {
  let t: TestApp;
  let browser: Browser;
  let shop: { server: Server; url: string };
  /** This test's browser contexts, and what went wrong in each one's checkout pages. */
  let opened: { context: BrowserContext; problems: string[] }[] = [];

  beforeAll(async () => {
    // Chromium first: without it the suite fails here, before anything else starts.
    browser = await launchChromium();
    t = await startApp();
    shop = await startShop();
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => shop?.server.close(resolve));
    await t?.close();
  });
  afterEach(async () => {
    const done = opened;
    opened = [];
    await Promise.all(done.map((o) => o.context.close()));
    // Script errors, CSP refusals and outside requests on a checkout page fail the test that caused them.
    expect(done.flatMap((o) => o.problems)).toEqual([]);
  });

  async function buyer(
    kind: keyof typeof BROWSERS,
  ): Promise<{ page: Page; context: BrowserContext }> {
    const options = BROWSERS[kind];
    const context = await browser.newContext({
      ...options,
      extraHTTPHeaders: {
        'Accept-Language': options.locale === 'zh-CN' ? 'zh-CN,zh;q=0.9' : 'en-US,en;q=0.9',
      },
    });
    opened.push({ context, problems: watchProblems(context, t.url, '/checkout/') });
    return { page: await context.newPage(), context };
  }

  const goto = (page: Page, order: CheckoutOrder, extra = '') =>
    page.goto(`${t.url}${checkoutPath(order, extra)}`);

  it('desktop: a QR code per channel, switched by keyboard; paid in the sandbox cashier, it flips to paid and goes back to the shop', async () => {
    const order = await createOrder(t, { returnUrl: `${shop.url}/orders/42?done=1` });
    const { page, context } = await buyer('desktop');
    const response = await goto(page, order);
    expect(response?.status()).toBe(200);
    await expectVisible(page.getByRole('heading', { level: 1, name: 'Blue mug' }));
    await expectVisible(page.getByText('¥88.80', { exact: true }));

    const alipayTab = page.getByRole('tab', { name: 'Alipay' });
    const wechatTab = page.getByRole('tab', { name: 'WeChat Pay' });
    expect(await alipayTab.getAttribute('aria-selected')).toBe('true');
    await expectVisible(page.getByRole('img', { name: 'Alipay payment QR code for ¥88.80' }));
    expect(await page.locator('#panel-wechat').isHidden()).toBe(true);
    await screenshot(page, 'checkout-desktop-alipay');

    // Keyboard only: the arrow key moves to the WeChat tab and shows its code.
    await alipayTab.focus();
    await page.keyboard.press('ArrowRight');
    expect(await wechatTab.getAttribute('aria-selected')).toBe('true');
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe(
      'tab-wechat',
    );
    await expectVisible(page.getByRole('img', { name: 'WeChat Pay payment QR code for ¥88.80' }));
    expect(await page.locator('#panel-alipay').isHidden()).toBe(true);
    await screenshot(page, 'checkout-desktop-wechat');
    await page.keyboard.press('ArrowLeft');
    expect(await alipayTab.getAttribute('aria-selected')).toBe('true');

    // A reload reuses the attempts.
    const attempts = await attemptsOf(t, order.id);
    expect(attempts.map((a) => `${a.channel}/${a.method}`)).toEqual(['alipay/qr', 'wechat/qr']);
    await page.reload();
    expect(await attemptsOf(t, order.id)).toEqual(attempts);

    // The code opens the sandbox cashier; "Pay" there pays.
    const [cashier] = await Promise.all([
      context.waitForEvent('page'),
      page.getByRole('link', { name: 'Open the sandbox cashier in a new tab' }).first().click(),
    ]);
    await cashier.waitForLoadState();
    expect(cashier.url()).toBe(attempts[0].action.qrCode);
    await expectVisible(cashier.getByRole('heading', { name: 'Blue mug' }));
    const paying = Date.now();
    await cashier.getByRole('button', { name: 'Pay' }).click();
    await page
      .getByRole('heading', { name: 'Payment received' })
      .waitFor({ state: 'visible', timeout: PAID_WITHIN_MS });
    expect(Date.now() - paying).toBeLessThan(PAID_WITHIN_MS);
    expect(await page.locator('#pay').isHidden()).toBe(true);
    await screenshot(page, 'checkout-desktop-paid');
    expect(await orderStatus(t, order.id)).toBe('PAID');

    // Then back to the order's returnUrl.
    await page.waitForURL(`${shop.url}/orders/42?done=1`, { timeout: 10_000 });
    expect(await page.textContent('h1')).toBe('Thank you');
  });

  it('iPhone: Alipay wap and WeChat h5 buttons; WeChat opens its cashier, Alipay pays and returns to the shop', async () => {
    const order = await createOrder(t, { returnUrl: `${shop.url}/orders/43` });
    const { page } = await buyer('iPhone');
    await goto(page, order);
    expect(await page.getAttribute('html', 'lang')).toBe('zh-CN');
    const alipay = page.getByRole('link', { name: '使用支付宝付款' });
    const wechat = page.getByRole('link', { name: '使用微信支付' });
    await expectVisible(alipay);
    await expectVisible(wechat);
    expect(await page.locator('svg').count()).toBe(0);
    await screenshot(page, 'checkout-iphone');

    // WeChat H5 leads to WeChat's cashier (here the sandbox's).
    await wechat.click();
    await page.waitForURL(/\/sandbox\/wechat\/cashier\//);
    await expectVisible(page.getByText('¥88.80'));
    await page.goBack();
    await expectVisible(page.getByRole('link', { name: '使用支付宝付款' }));

    // Alipay wap: the cashier, Pay, and the channel sends the buyer to the shop.
    await page.getByRole('link', { name: '使用支付宝付款' }).click();
    await page.waitForURL(/\/sandbox\/alipay\/cashier\//);
    await page.getByRole('button', { name: 'Pay' }).click();
    await page.waitForURL(new RegExp(`^${escapeRegExp(shop.url)}/orders/43\\?`));
    await eventually(async () => expect(await orderStatus(t, order.id)).toBe('PAID'));

    // Opened again, the page says so (and would take the buyer back too).
    await goto(page, order);
    await expectVisible(page.getByRole('heading', { name: '支付成功' }));
    await screenshot(page, 'checkout-iphone-paid');
    await page.waitForURL(`${shop.url}/orders/43`, { timeout: 10_000 });
  });

  it('WeChat without openid: the WeChat QR code, no Alipay, and the hint to open a browser', async () => {
    const order = await createOrder(t);
    const { page } = await buyer('wechat');
    await goto(page, order);
    await expectVisible(page.getByRole('img', { name: /^微信支付付款二维码/ }));
    await expectVisible(page.getByText('在浏览器打开', { exact: false }));
    expect(await page.getByText('支付宝', { exact: false }).count()).toBe(1); // the hint only
    expect(await page.getByRole('tab').count()).toBe(0);
    await screenshot(page, 'checkout-wechat-qr');
  });

  it('WeChat with openid: JSAPI through WeixinJSBridge; a cancel says so, a payment flips the page to paid', async () => {
    const order = await createOrder(t, { subject: 'Green tea', amount: 1200 });
    const { page, context } = await buyer('wechat');
    // What WeChat's client does with getBrandWCPayRequest: check the parameters
    // (the sandbox verifies paySign), show its cashier, and call back.
    let answer: 'cancel' | 'pay' = 'cancel';
    let paying = 0;
    const seen: Record<string, string>[] = [];
    await page.exposeFunction('paygateTestWechatPay', async (params: Record<string, string>) => {
      seen.push(params);
      if (answer === 'cancel') return { err_msg: 'get_brand_wcpay_request:cancel' };
      const opened = await t.http.post('/sandbox/wechat/client-pay/jsapi').send(params).expect(200);
      const sheet = await context.newPage();
      await sheet.goto(opened.body.cashierUrl as string);
      paying = Date.now();
      await sheet.getByRole('button', { name: 'Pay' }).click();
      await sheet.close();
      return { err_msg: 'get_brand_wcpay_request:ok' };
    });
    // Runs in the page (a string: this file is compiled without the DOM's types).
    await page.addInitScript(`
      window.WeixinJSBridge = {
        invoke: function (name, params, done) {
          if (name !== 'getBrandWCPayRequest') throw new Error('unexpected ' + name);
          window.paygateTestWechatPay(params).then(done);
        },
      };
    `);
    await goto(page, order, '&openid=oUpF8uMuAJO_M2pxb1Q9zNjWeS6o');
    await expectVisible(page.getByText('¥12.00', { exact: true }));
    expect(await page.getByText('在浏览器打开', { exact: false }).isVisible()).toBe(true);
    const button = page.getByRole('button', { name: '使用微信支付' });
    await screenshot(page, 'checkout-wechat-jsapi');

    await button.click();
    await expectVisible(page.getByText('支付未完成，可再次点击付款。'));
    const [jsapi] = await attemptsOf(t, order.id);
    expect(seen[0]).toEqual(jsapi.action.params);

    answer = 'pay';
    await button.click();
    await page
      .getByRole('heading', { name: '支付成功' })
      .waitFor({ state: 'visible', timeout: 10_000 });
    expect(Date.now() - paying).toBeLessThan(PAID_WITHIN_MS);
    expect(await orderStatus(t, order.id)).toBe('PAID');
    await screenshot(page, 'checkout-wechat-jsapi-paid');
  });

  it("Alipay's in-app browser: Alipay only", async () => {
    const order = await createOrder(t);
    const { page } = await buyer('alipay');
    await goto(page, order);
    await expectVisible(page.getByRole('link', { name: '使用支付宝付款' }));
    expect(await page.getByText('微信', { exact: false }).count()).toBe(0);
    await screenshot(page, 'checkout-alipay-app');
  });

  it('an expired order: 410 and a page that says so, with nothing of the order', async () => {
    const order = await createOrder(t);
    await expire(t, order.id);
    const { page } = await buyer('desktop');
    const response = await goto(page, order);
    expect(response?.status()).toBe(410);
    await expectVisible(page.getByRole('heading', { name: 'This order has expired' }));
    const text = await page.textContent('body');
    expect(text).not.toContain('Blue mug');
    expect(text).not.toContain('88.80');
    await screenshot(page, 'checkout-expired');
  });

  it('an order that expires, or is closed, while its page is open: the page says so and offers no way to pay', async () => {
    const expiring = await createOrder(t);
    const { page } = await buyer('desktop');
    await goto(page, expiring);
    await expectVisible(page.getByRole('img', { name: /QR code/ }).first());
    await expire(t, expiring.id);
    await page
      .getByRole('heading', { name: 'This order has expired' })
      .waitFor({ state: 'visible', timeout: PAID_WITHIN_MS });
    expect(await page.locator('#pay').isHidden()).toBe(true);
    expect(await page.getByRole('tab').count()).toBe(0);
    expect(await page.getByRole('link', { name: /cashier/ }).count()).toBe(0);
    await screenshot(page, 'checkout-expired-while-open');

    const closing = await createOrder(t);
    const phone = await buyer('iPhone');
    await goto(phone.page, closing);
    await expectVisible(phone.page.getByRole('link', { name: '使用支付宝付款' }));
    await t.http.post(`/api/orders/${closing.id}/close`).set(t.merchant).expect(200);
    await phone.page
      .getByRole('heading', { name: '订单已关闭' })
      .waitFor({ state: 'visible', timeout: PAID_WITHIN_MS });
    expect(await phone.page.getByRole('link', { name: '使用支付宝付款' }).count()).toBe(0);
    await screenshot(phone.page, 'checkout-closed-while-open');
  });

  it('a wrong secret: 404 and a page that says so, with nothing of the order', async () => {
    const order = await createOrder(t);
    const { page } = await buyer('desktop');
    const response = await page.goto(`${t.url}/checkout/${order.id}?cs=cs_${'w'.repeat(40)}`);
    expect(response?.status()).toBe(404);
    await expectVisible(page.getByRole('heading', { name: 'Order not found' }));
    const text = await page.textContent('body');
    expect(text).not.toContain('Blue mug');
    expect(text).not.toContain('88.80');
    await screenshot(page, 'checkout-wrong-secret');
  });

  it('Swagger UI: Authorize with the admin key, then call an admin endpoint from the page', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    opened.push({ context, problems: [] });
    const outside: string[] = [];
    context.on('request', (r) => {
      if (!r.url().startsWith(`${t.url}/`)) outside.push(r.url());
    });
    const page = await context.newPage();
    await page.goto(`${t.url}/docs`);
    await page
      .getByRole('button', { name: /Authorize/ })
      .first()
      .click();
    const admin = page
      .locator('.auth-container')
      .filter({ has: page.locator('h4', { hasText: /^admin/ }) });
    await admin.locator('input').fill(ADMIN_KEY);
    await admin.getByRole('button', { name: 'Apply credentials' }).click();
    await expectVisible(admin.getByRole('button', { name: 'Remove authorization' }));
    await admin.getByRole('button', { name: 'Close', exact: true }).click();

    const operation = page
      .locator('.opblock-get')
      .filter({ has: page.locator('[data-path="/admin/orders"]') });
    await operation.locator('.opblock-summary').first().click();
    await operation.getByRole('button', { name: 'Try it out' }).click();
    const [answer] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/admin/orders'),
      operation.getByRole('button', { name: 'Execute' }).click(),
    ]);
    expect(answer.request().headers().authorization).toBe(`Bearer ${ADMIN_KEY}`);
    expect(answer.status()).toBe(200);
    expect(await answer.json()).toMatchObject({ items: expect.any(Array) });
    // What the page shows of the answer: its status code in the live response table.
    const shown = operation.locator('.live-responses-table tr.response .response-col_status');
    await expectVisible(shown);
    expect((await shown.textContent())?.trim()).toBe('200');
    await screenshot(operation, 'swagger-admin-orders');
    expect(outside).toEqual([]);
  });
});

async function expectVisible(locator: {
  waitFor(o: { state: 'visible'; timeout: number }): Promise<void>;
}) {
  await locator.waitFor({ state: 'visible', timeout: 10_000 });
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The storefront's own pages: where returnUrl leads. */
async function startShop(): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Shop</title><h1>Thank you</h1>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
