import { toString as qrToString } from 'qrcode';

/**
 * A QR code as inline SVG, drawn by the `qrcode` library: black modules on a white
 * square with the quiet zone the standard asks for, error correction M (what both
 * channels' own QR codes use). The SVG is the library's, unchanged.
 */
export function qrSvg(text: string): Promise<string> {
  return qrToString(text, {
    type: 'svg',
    errorCorrectionLevel: 'M',
    margin: 4,
    color: { dark: '#000000', light: '#ffffff' },
  });
}
