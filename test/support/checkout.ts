import { sqlTime } from '../../src/database/sql-time';
import { TestApp, orderInput } from './test-app';

/** User agents as the browsers send them, for the checkout page's choice of ways to pay. */
export const USER_AGENTS = {
  desktop:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  iPhone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  wechat:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.49(0x18003137) NetType/WIFI Language/zh_CN',
  alipay:
    'Mozilla/5.0 (Linux; U; Android 14; zh-CN; V2307A Build/UP1A.231005.007) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/69.0.3497.100 Mobile Safari/537.36 NebulaSDK/1.8.100112 Nebula AliApp(AP/10.5.96.8000) AlipayClient/10.5.96.8000 Language/zh-Hans',
};

export interface CheckoutOrder {
  id: string;
  clientSecret: string;
  merchantOrderNo: string;
}

/** Creates an order through the merchant API, as a storefront backend would. */
export async function createOrder(
  t: TestApp,
  extra: Record<string, unknown> = {},
): Promise<CheckoutOrder> {
  const res = await t.http.post('/api/orders').set(t.merchant).send(orderInput(extra)).expect(201);
  return res.body as CheckoutOrder;
}

/** The link a storefront gives its buyer. */
export const checkoutPath = (order: CheckoutOrder, extra = ''): string =>
  `/checkout/${order.id}?cs=${encodeURIComponent(order.clientSecret)}${extra}`;

export interface AttemptRow {
  channel: string;
  method: string;
  outTradeNo: string;
  status: string;
  openid: string | null;
  clientIp: string | null;
  returnUrl: string | null;
  action: { type: string; qrCode?: string; url?: string; params?: Record<string, string> };
}

/** The order's payment attempts, by channel then method. */
export async function attemptsOf(t: TestApp, orderId: string): Promise<AttemptRow[]> {
  const rows = (await t.dataSource.query(
    'SELECT channel, method, out_trade_no, status, openid, client_ip, return_url, action FROM payments ' +
      'WHERE order_id = ? ORDER BY channel, method, created_at',
    [orderId],
  )) as Record<string, string | null>[];
  return rows.map((r) => ({
    channel: r.channel!,
    method: r.method!,
    outTradeNo: r.out_trade_no!,
    status: r.status!,
    openid: r.openid,
    clientIp: r.client_ip,
    returnUrl: r.return_url,
    action: JSON.parse(r.action ?? 'null') as AttemptRow['action'],
  }));
}

/** Moves the order's expiry into the past, as if its time had run out. */
export const expire = (t: TestApp, orderId: string): Promise<unknown> =>
  t.dataSource.query('UPDATE orders SET expires_at = ? WHERE id = ?', [
    sqlTime(new Date(Date.now() - 60_000)),
    orderId,
  ]);
