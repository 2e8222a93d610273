/**
 * The checkout page's two languages and every sentence it shows, chosen by the
 * browser's Accept-Language. Simplified Chinese is the default: buyers who pay
 * with Alipay and WeChat Pay read it first.
 */
export type Language = 'zh' | 'en';

/**
 * The supported language the buyer prefers most: the highest q-value among the
 * ranges that name zh or en (`*` counts as the default). Ties go to the earlier one.
 */
export function pickLanguage(acceptLanguage: string | undefined): Language {
  let best: { language: Language; q: number } | undefined;
  for (const part of (acceptLanguage ?? '').slice(0, 512).split(',')) {
    const [range, ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!Number.isFinite(q) || q <= 0) continue;
    const language: Language | undefined =
      range === 'zh' || range.startsWith('zh-')
        ? 'zh'
        : range === 'en' || range.startsWith('en-')
          ? 'en'
          : range === '*'
            ? 'zh'
            : undefined;
    if (language && (!best || q > best.q)) best = { language, q };
  }
  return best?.language ?? 'zh';
}

export interface Messages {
  htmlLang: string;
  pageTitle: string;
  amountDue: string;
  choose: string;
  alipay: string;
  wechat: string;
  scanAlipay: string;
  scanWechat: string;
  scanWechatInApp: string;
  qrLabel: (channel: string, amount: string) => string;
  payAlipay: string;
  payWechat: string;
  openInBrowser: string;
  unavailable: string;
  payWithin: string;
  waiting: string;
  noScript: string;
  jsapiCancelled: string;
  jsapiFailed: string;
  sandbox: string;
  sandboxCashier: string;
  paidTitle: string;
  paidBody: string;
  returning: string;
  backToShop: string;
  expiredTitle: string;
  expiredBody: string;
  closedTitle: string;
  closedBody: string;
  notFoundTitle: string;
  notFoundBody: string;
  tooManyTitle: string;
  tooManyBody: string;
  badLinkTitle: string;
  badLinkBody: (field: string) => string;
}

export const MESSAGES: Record<Language, Messages> = {
  zh: {
    htmlLang: 'zh-CN',
    pageTitle: '订单支付',
    amountDue: '应付金额',
    choose: '选择支付方式',
    alipay: '支付宝',
    wechat: '微信支付',
    scanAlipay: '打开支付宝，扫一扫付款',
    scanWechat: '打开微信，扫一扫付款',
    scanWechatInApp: '请用另一部手机的微信扫码；或截屏后在微信「扫一扫」中从相册选取此二维码。',
    qrLabel: (channel, amount) => `${channel}付款二维码，金额 ${amount}`,
    payAlipay: '使用支付宝付款',
    payWechat: '使用微信支付',
    openInBrowser: '想用支付宝付款？请点右上角「⋯」，选择「在浏览器打开」。',
    unavailable: '暂时无法使用，请稍后刷新重试，或选择其他支付方式。',
    payWithin: '请在以下时间内完成支付：',
    waiting: '等待付款…付款后本页会自动更新。',
    noScript: '本页无法自动更新：付款后请刷新页面。',
    jsapiCancelled: '支付未完成，可再次点击付款。',
    jsapiFailed: '微信支付未能打开，请稍后再试。',
    sandbox: '沙箱环境：不会产生真实扣款。',
    sandboxCashier: '在新标签页打开沙箱收银台',
    paidTitle: '支付成功',
    paidBody: '已收到您的付款，谢谢！',
    returning: '正在返回商户页面…',
    backToShop: '返回商户',
    expiredTitle: '订单已过期',
    expiredBody: '该订单已超过支付时限，请返回商户重新下单。',
    closedTitle: '订单已关闭',
    closedBody: '该订单已关闭，无法继续支付。',
    notFoundTitle: '找不到该订单',
    notFoundBody: '链接不完整或已失效。请回到商户，重新打开支付页面。',
    tooManyTitle: '请求过于频繁',
    tooManyBody: '请稍等片刻后再刷新本页。',
    badLinkTitle: '链接有误',
    badLinkBody: (field) => `支付链接中的参数 ${field} 格式不正确。请回到商户，重新打开支付页面。`,
  },
  en: {
    htmlLang: 'en',
    pageTitle: 'Pay for your order',
    amountDue: 'Amount due',
    choose: 'Choose how to pay',
    alipay: 'Alipay',
    wechat: 'WeChat Pay',
    scanAlipay: 'Open Alipay and scan to pay',
    scanWechat: 'Open WeChat and scan to pay',
    scanWechatInApp:
      'Scan it with WeChat on another phone, or take a screenshot and pick it from the album in WeChat’s Scan.',
    qrLabel: (channel, amount) => `${channel} payment QR code for ${amount}`,
    payAlipay: 'Pay with Alipay',
    payWechat: 'Pay with WeChat Pay',
    openInBrowser: 'To pay with Alipay, tap “⋯” at the top right and choose “Open in Browser”.',
    unavailable: 'Not available right now: reload the page later, or choose another way to pay.',
    payWithin: 'Time left to pay:',
    waiting: 'Waiting for your payment… this page updates by itself.',
    noScript: 'This page cannot update by itself: reload it after paying.',
    jsapiCancelled: 'The payment was not completed; you can try again.',
    jsapiFailed: 'WeChat Pay could not be opened; please try again later.',
    sandbox: 'Sandbox: no real money moves.',
    sandboxCashier: 'Open the sandbox cashier in a new tab',
    paidTitle: 'Payment received',
    paidBody: 'Thank you, your payment has arrived.',
    returning: 'Taking you back to the shop…',
    backToShop: 'Back to the shop',
    expiredTitle: 'This order has expired',
    expiredBody: 'The time to pay for it is over. Go back to the shop to order again.',
    closedTitle: 'This order is closed',
    closedBody: 'It can no longer be paid.',
    notFoundTitle: 'Order not found',
    notFoundBody:
      'The link is incomplete or no longer valid. Go back to the shop and open the payment page again.',
    tooManyTitle: 'Too many requests',
    tooManyBody: 'Please wait a moment, then reload this page.',
    badLinkTitle: 'Broken link',
    badLinkBody: (field) =>
      `The payment link's ${field} parameter is malformed. Go back to the shop and open the payment page again.`,
  },
};
