import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Asset {
  body: Buffer;
  contentType: string;
  /** A hash of the content: in the page's links (`?v=`) and as the ETag. */
  version: string;
}

/** The files the page loads, each served by paygate itself (no CDN, no build step). */
const FILES: Record<string, string> = {
  'checkout.css': 'text/css; charset=utf-8',
  'checkout.js': 'text/javascript; charset=utf-8',
};

/**
 * The checkout page's stylesheet and script, read once at start from
 * `assets/` beside this file (`nest build` copies the folder into dist).
 */
@Injectable()
export class CheckoutAssets {
  private readonly assets = new Map<string, Asset>();

  constructor() {
    for (const [name, contentType] of Object.entries(FILES)) {
      const body = readFileSync(join(__dirname, 'assets', name));
      const version = createHash('sha256').update(body).digest('hex').slice(0, 16);
      this.assets.set(name, { body, contentType, version });
    }
  }

  get(name: string): Asset | undefined {
    return this.assets.get(name);
  }

  /** The URL a page links to: versioned, so a changed file is never taken from a stale cache. */
  url(name: 'checkout.css' | 'checkout.js'): string {
    return `/checkout/assets/${name}?v=${this.assets.get(name)!.version}`;
  }
}
