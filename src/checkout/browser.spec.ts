import { browserKind, payOptions } from './browser';

const UA = {
  chromeDesktop:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  safariMac:
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  iPhone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  android:
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
  wechatIphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.49(0x18003137) NetType/WIFI Language/zh_CN',
  wechatWindows:
    'Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.138 Safari/537.36 NetType/WIFI MicroMessenger/7.0.20.1781(0x6700143B) WindowsWechat(0x63090a13)',
  alipayAndroid:
    'Mozilla/5.0 (Linux; U; Android 14; zh-CN; V2307A Build/UP1A.231005.007) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/69.0.3497.100 UWS/3.22.2.9999 Mobile Safari/537.36 AlipayChannelId/5136 NebulaSDK/1.8.100112 Nebula AlipayDefined(nt:WIFI,ws:393|0|2.75) AliApp(AP/10.5.96.8000) AlipayClient/10.5.96.8000 Language/zh-Hans',
};

describe('browserKind', () => {
  it.each([
    [UA.chromeDesktop, 'desktop'],
    [UA.safariMac, 'desktop'],
    [undefined, 'desktop'],
    [UA.iPhone, 'phone'],
    [UA.android, 'phone'],
    [UA.wechatIphone, 'wechat'],
    [UA.wechatWindows, 'wechat'],
    [UA.alipayAndroid, 'alipay'],
  ])('%s → %s', (ua, kind) => {
    expect(browserKind(ua)).toBe(kind);
  });
});

describe('payOptions', () => {
  const all = () => true;

  it('desktop: a QR code per channel', () => {
    expect(payOptions('desktop', undefined, all)).toEqual({
      options: [
        { channel: 'alipay', method: 'qr' },
        { channel: 'wechat', method: 'qr' },
      ],
      openInBrowserHint: false,
    });
  });

  it('phone: Alipay wap and WeChat h5', () => {
    expect(payOptions('phone', 'o-1', all).options).toEqual([
      { channel: 'alipay', method: 'wap' },
      { channel: 'wechat', method: 'h5' },
    ]);
  });

  it('WeChat: jsapi with an openid, else the WeChat QR code; never Alipay, but the hint', () => {
    expect(payOptions('wechat', 'o-1', all)).toEqual({
      options: [{ channel: 'wechat', method: 'jsapi' }],
      openInBrowserHint: true,
    });
    expect(payOptions('wechat', undefined, all)).toEqual({
      options: [{ channel: 'wechat', method: 'qr' }],
      openInBrowserHint: true,
    });
  });

  it('Alipay: Alipay only', () => {
    expect(payOptions('alipay', undefined, all)).toEqual({
      options: [{ channel: 'alipay', method: 'wap' }],
      openInBrowserHint: false,
    });
  });

  it('keeps only what a configured channel supports', () => {
    const wechatOnly = (channel: string) => channel === 'wechat';
    expect(payOptions('desktop', undefined, wechatOnly).options).toEqual([
      { channel: 'wechat', method: 'qr' },
    ]);
    expect(payOptions('wechat', undefined, wechatOnly).openInBrowserHint).toBe(false);
  });
});
