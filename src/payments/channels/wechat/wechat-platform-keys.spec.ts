import { createCipheriv, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecretKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { WechatV3CallOptions } from './wechat-v3.client';
import { RefreshLimiter, SingleFlight, WechatPlatformKeys } from './wechat-platform-keys';

const API_V3_KEY = 'abcdefghijklmnopqrstuvwxyz012345';

/** A self-signed certificate from the openssl command line (test data only). */
function certificate(serialHex: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'wxcert-spec-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(dir, 'k.pem'),
        '-out',
        join(dir, 'c.pem'),
        '-days',
        '30',
        '-set_serial',
        `0x${serialHex}`,
        '-subj',
        '/CN=t',
      ],
      { stdio: 'ignore' },
    );
    return readFileSync(join(dir, 'c.pem'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function listing(certs: Array<{ serial: string; pem: string }>, key = API_V3_KEY): string {
  return JSON.stringify({
    data: certs.map(({ serial, pem }) => {
      const nonce = randomBytes(6).toString('hex');
      const cipher = createCipheriv('aes-256-gcm', Buffer.from(key), Buffer.from(nonce));
      cipher.setAAD(Buffer.from('certificate'));
      const sealed = Buffer.concat([cipher.update(pem), cipher.final(), cipher.getAuthTag()]);
      return {
        serial_no: serial,
        encrypt_certificate: {
          algorithm: 'AEAD_AES_256_GCM',
          nonce,
          associated_data: 'certificate',
          ciphertext: sealed.toString('base64'),
        },
      };
    }),
  });
}

const SERIAL_A = '5157F09EFDC096DE15EBE81A47057A7232F1B8E1';
const SERIAL_B = '1A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D';

describe('RefreshLimiter', () => {
  it('allows one refresh per interval', () => {
    let now = 1_000_000;
    const limiter = new RefreshLimiter(60_000, () => now);
    expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(false);
    now += 59_999;
    expect(limiter.tryAcquire()).toBe(false);
    now += 1;
    expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(false);
  });
});

describe('SingleFlight', () => {
  it('runs one task at a time; callers meanwhile share it, a later call runs again', async () => {
    const flight = new SingleFlight();
    let runs = 0;
    const task = async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 5));
    };
    await Promise.all([flight.run(task), flight.run(task), flight.run(task)]);
    expect(runs).toBe(1);
    await flight.run(task);
    expect(runs).toBe(2);
  });
});

describe('WechatPlatformKeys', () => {
  let pemA: string;
  let pemB: string;
  beforeAll(() => {
    pemA = certificate(SERIAL_A);
    pemB = certificate(SERIAL_B);
  });

  const started: WechatPlatformKeys[] = [];
  afterEach(() => started.splice(0).forEach((k) => k.stop()));

  function setup(
    answer: () => { status: number; text: string; code?: string },
    clock = () => Date.now(),
    pinned?: { id: string; publicKey: KeyObject },
  ) {
    const outcomes: string[] = [];
    const errors: string[] = [];
    let calls = 0;
    const keys = new WechatPlatformKeys({
      apiV3Key: createSecretKey(Buffer.from(API_V3_KEY)),
      fetchAtStart: false,
      ...(pinned ? { pinned } : {}),
      countFetch: (o) => outcomes.push(o),
      logger: { log: () => undefined, warn: () => undefined, error: (m) => errors.push(m) },
      clock,
    });
    const fetch = async (options: WechatV3CallOptions) => {
      calls++;
      await new Promise((r) => setTimeout(r, 5));
      const a = answer();
      // As WechatV3Client does: keys that cannot be had make the answer untrusted.
      try {
        options.keysFor?.(a.status, a.text);
      } catch (error) {
        throw new Error(`HTTP ${a.status} answer not trusted: ${(error as Error).message}`);
      }
      return { status: a.status, body: null, ...(a.code ? { code: a.code } : {}) };
    };
    // Started without the fetch at start, so only what a test asks for runs.
    keys.start(fetch);
    started.push(keys);
    return { keys, fetch, outcomes, errors, calls: () => calls };
  }

  it('is not ready before a fetch; afterwards keeps each certificate by serial', async () => {
    let certs = [{ serial: SERIAL_A, pem: pemA }];
    const s = setup(() => ({ status: 200, text: listing(certs) }));
    expect(s.keys.ready).toBe(false);
    expect(s.keys.status()).toMatchObject({ state: 'starting', mode: 'platform-certificate' });
    await s.keys.refresh();
    expect(s.keys.ready).toBe(true);
    expect(s.keys.lookup(SERIAL_A)).toBeDefined();
    expect(s.keys.lookup(SERIAL_B)).toBeUndefined();
    certs = [...certs, { serial: SERIAL_B, pem: pemB }];
    await s.keys.refresh();
    expect(s.keys.lookup(SERIAL_B)).toBeDefined();
    expect(s.outcomes.every((o) => o === 'ok')).toBe(true);
  });

  it('refreshes at most once a minute on unknown serials', async () => {
    let now = Date.now();
    const s = setup(
      () => ({ status: 200, text: listing([{ serial: SERIAL_A, pem: pemA }]) }),
      () => now,
    );
    await Promise.all(Array.from({ length: 20 }, () => s.keys.onUnknownSerial('DEADBEEF')));
    expect(s.calls()).toBe(1);
    await s.keys.onUnknownSerial('CAFE');
    expect(s.calls()).toBe(1);
    now += 60_000;
    await s.keys.onUnknownSerial('CAFE');
    expect(s.calls()).toBe(2);
  });

  it('a listing under another APIv3 key is not trusted and keeps the channel unavailable', async () => {
    const s = setup(() => ({
      status: 200,
      text: listing([{ serial: SERIAL_A, pem: pemA }], 'ZZZZefghijklmnopqrstuvwxyz012345'),
    }));
    await s.keys.refresh();
    expect(s.outcomes).toEqual(['invalid']);
    expect(s.errors.join('\n')).toContain('decryption failed');
    expect(s.keys.ready).toBe(false);
    expect(s.keys.lookup(SERIAL_A)).toBeUndefined();
  });

  it('404 RESOURCE_NOT_EXISTS tells the merchant to configure the WeChat Pay public key', async () => {
    const s = setup(() => ({ status: 404, text: '{}', code: 'RESOURCE_NOT_EXISTS' }));
    await s.keys.refresh();
    expect(s.outcomes).toEqual(['not_found']);
    expect(s.errors.join('\n')).toContain('WECHAT_PLATFORM_PUBLIC_KEY');
    expect(s.keys.status()).toMatchObject({ state: 'unavailable' });
  });

  it('an expired certificate no longer verifies anything', async () => {
    let now = Date.now();
    const s = setup(
      () => ({ status: 200, text: listing([{ serial: SERIAL_A, pem: pemA }]) }),
      () => now,
    );
    await s.keys.refresh();
    expect(s.keys.lookup(SERIAL_A)).toBeDefined();
    now += 31 * 86_400_000;
    expect(s.keys.lookup(SERIAL_A)).toBeUndefined();
    expect(s.keys.ready).toBe(false);
    expect(s.keys.status()).toMatchObject({
      state: 'unavailable',
      reason: expect.stringContaining('expired'),
    });
  });

  it('migration: a PUB_KEY_ID key and fetched certificates side by side, each by its id', async () => {
    const publicKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const id = 'PUB_KEY_ID_0114232134912410000000000000001';
    const s = setup(
      () => ({ status: 200, text: listing([{ serial: SERIAL_A, pem: pemA }]) }),
      undefined,
      { id, publicKey },
    );
    expect(s.keys.ready).toBe(true);
    expect(s.keys.status().mode).toBe('public-key');
    expect(s.keys.lookup(id)).toBe(publicKey);
    await s.keys.onUnknownSerial(id.replace(/1$/, '2')); // another key id: not a certificate
    expect(s.calls()).toBe(0);
    await s.keys.onUnknownSerial(SERIAL_A);
    expect(s.calls()).toBe(1);
    expect(s.keys.lookup(SERIAL_A)).toBeDefined();
    expect(s.keys.lookup(id)).toBe(publicKey);
    expect(s.keys.status()).toMatchObject({ mode: 'migration', serials: [id, SERIAL_A] });
  });

  it('a serial with a leading zero is found however it is written, and shown as WeChat wrote it', async () => {
    const serial = '0A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D';
    const pem = certificate(serial);
    const s = setup(() => ({ status: 200, text: listing([{ serial, pem }]) }));
    await s.keys.refresh();
    expect(s.outcomes).toEqual(['ok']);
    expect(s.keys.lookup(serial)).toBeDefined();
    expect(s.keys.lookup(serial.slice(1))).toBeDefined();
    expect(s.keys.status().serials).toEqual([serial]);
  });
});
