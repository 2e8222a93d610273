import type { Channel, PaymentMethod } from '../payments/payment-provider';

/**
 * Where the buyer opened the checkout page, from the User-Agent alone: that
 * decides which ways to pay can work there (contract.md "Hosted checkout page").
 * - wechat: WeChat's in-app browser (`MicroMessenger`, also WeCom and the desktop
 *   client), which runs JSAPI payments and blocks Alipay links;
 * - alipay: Alipay's in-app browser (`AlipayClient`), which only opens Alipay;
 * - phone: any other mobile browser, which hands `wap` and `h5` payments to the apps;
 * - desktop: everything else, where the buyer scans a QR code with a phone.
 */
export type BrowserKind = 'desktop' | 'phone' | 'wechat' | 'alipay';

const PHONE = /Mobi|Android|iPhone|iPad|iPod|HarmonyOS|OpenHarmony|Windows Phone/i;

export function browserKind(userAgent: string | undefined): BrowserKind {
  const ua = userAgent ?? '';
  if (/MicroMessenger/i.test(ua)) return 'wechat';
  if (/AlipayClient/i.test(ua)) return 'alipay';
  return PHONE.test(ua) ? 'phone' : 'desktop';
}

export interface PayOption {
  channel: Channel;
  method: PaymentMethod;
}

export interface PayOptions {
  options: PayOption[];
  /** Inside WeChat, where Alipay cannot open: tell the buyer to open the page in a browser. */
  openInBrowserHint: boolean;
}

/**
 * The ways to pay shown in one browser, in the order shown, keeping only those a
 * configured channel supports (`supports`).
 */
export function payOptions(
  kind: BrowserKind,
  openid: string | undefined,
  supports: (channel: Channel, method: PaymentMethod) => boolean,
): PayOptions {
  const wanted: Record<BrowserKind, PayOption[]> = {
    desktop: [
      { channel: 'alipay', method: 'qr' },
      { channel: 'wechat', method: 'qr' },
    ],
    phone: [
      { channel: 'alipay', method: 'wap' },
      { channel: 'wechat', method: 'h5' },
    ],
    wechat: [{ channel: 'wechat', method: openid ? 'jsapi' : 'qr' }],
    alipay: [{ channel: 'alipay', method: 'wap' }],
  };
  return {
    options: wanted[kind].filter((o) => supports(o.channel, o.method)),
    openInBrowserHint: kind === 'wechat' && supports('alipay', 'wap'),
  };
}
