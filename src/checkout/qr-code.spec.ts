import { toString as qrToString } from 'qrcode';
import { qrSvg } from './qr-code';

describe('qrSvg', () => {
  it('is the SVG the qrcode library draws for the text', async () => {
    const text = 'https://qr.alipay.com/bax08431qnnzbzvxbxgi0032';
    const svg = await qrSvg(text);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*viewBox="0 0 \d+ \d+"/);
    expect(svg).not.toMatch(/<script|on\w+=/i);
    expect(svg).toBe(
      await qrToString(text, {
        type: 'svg',
        errorCorrectionLevel: 'M',
        margin: 4,
        color: { dark: '#000000', light: '#ffffff' },
      }),
    );
  });

  it('grows with the text', async () => {
    const size = (svg: string) => Number(/viewBox="0 0 (\d+)/.exec(svg)![1]);
    expect(size(await qrSvg('weixin://wxpay/bizpayurl?pr=x'))).toBeLessThan(
      size(await qrSvg(`weixin://wxpay/bizpayurl?pr=${'x'.repeat(200)}`)),
    );
  });
});
