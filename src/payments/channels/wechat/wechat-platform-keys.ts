/**
 * WeChat Pay APIv3 platform certificates (protocols.md C2, "平台证书"): the keys
 * WeChat signs answers and notifications with, by Wechatpay-Serial. A pinned
 * WeChat Pay public key (PUB_KEY_ID_…) from the configuration and, in
 * platform-certificate mode, the certificates of GET /v3/certificates, each
 * decrypted with the APIv3 key (AEAD_AES_256_GCM, C3). That decryption is what
 * makes the first download trustworthy: the answer's own signature can only be
 * checked with the certificates it carries.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { aeadAes256GcmDecrypt } from '../../../common/crypto/aead';
import type { WechatV3Answer, WechatV3CallOptions } from './wechat-v3.client';

export const CERTIFICATES_PATH = '/v3/certificates';
/** WeChat replaces a platform certificate well before it expires; twice a day is plenty. */
export const SCHEDULED_REFRESH_MS = 12 * 3600_000;
/** Refreshes asked for by an unknown serial: at most one in this long. */
export const UNKNOWN_SERIAL_REFRESH_MS = 60_000;
const START_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 60_000;

/**
 * At most one refresh per interval for serials nobody knows: a forger sending
 * random serials must not make paygate call WeChat once per request.
 */
export class RefreshLimiter {
  private last = -Infinity;

  constructor(
    private readonly intervalMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** True, and counted, when a refresh may start now. */
  tryAcquire(): boolean {
    const now = this.clock();
    if (now - this.last < this.intervalMs) return false;
    this.last = now;
    return true;
  }
}

/** One run of `task` at a time; callers arriving meanwhile share its outcome. */
export class SingleFlight {
  private running: Promise<void> | null = null;

  /** The run in flight, if any. */
  get current(): Promise<void> | null {
    return this.running;
  }

  run(task: () => Promise<void>): Promise<void> {
    this.running ??= task().finally(() => {
      this.running = null;
    });
    return this.running;
  }
}

interface PlatformCertificate {
  /** As WeChat writes it in serial_no and Wechatpay-Serial (upper-case hex). */
  serial: string;
  publicKey: KeyObject;
  validFrom: number;
  validTo: number;
}

interface CertificateItem {
  serial_no?: unknown;
  encrypt_certificate?: {
    algorithm?: unknown;
    nonce?: unknown;
    associated_data?: unknown;
    ciphertext?: unknown;
  };
}

export type WechatPlatformKeysState = 'ready' | 'starting' | 'unavailable';

export interface WechatPlatformKeysStatus {
  mode: 'public-key' | 'platform-certificate' | 'migration';
  state: WechatPlatformKeysState;
  /** Why WeChat calls are refused, while they are. */
  reason?: string;
  serials: string[];
  lastFetchAt?: string;
}

type Fetch = (options: WechatV3CallOptions) => Promise<WechatV3Answer<unknown>>;
type FetchOutcome = 'ok' | 'not_found' | 'unavailable' | 'invalid';

export interface WechatPlatformKeysOptions {
  apiV3Key: KeyObject;
  /** The configured WeChat Pay public key (or pinned certificate), if any. */
  pinned?: { id: string; publicKey: KeyObject };
  /** Fetch GET /v3/certificates at start (platform-certificate mode). */
  fetchAtStart: boolean;
  countFetch: (outcome: FetchOutcome) => void;
  logger: { log(msg: string): void; warn(msg: string): void; error(msg: string): void };
  clock?: () => number;
  unknownSerialIntervalMs?: number;
}

const normalSerial = (hex: string): string => hex.toUpperCase().replace(/^0+/, '');

export class WechatPlatformKeys {
  private certificates = new Map<string, PlatformCertificate>();
  private fetch?: Fetch;
  private readonly flight = new SingleFlight();
  private readonly limiter: RefreshLimiter;
  private readonly clock: () => number;
  private state: WechatPlatformKeysState;
  private reason?: string;
  private lastFetchAt?: number;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly options: WechatPlatformKeysOptions) {
    this.clock = options.clock ?? Date.now;
    this.limiter = new RefreshLimiter(
      options.unknownSerialIntervalMs ?? UNKNOWN_SERIAL_REFRESH_MS,
      this.clock,
    );
    this.state = options.pinned ? 'ready' : 'starting';
    if (!options.pinned) this.reason = 'the platform certificates have not been fetched yet';
  }

  /** Serial or public key id → key; an expired certificate no longer counts. */
  readonly lookup = (serial: string): KeyObject | undefined => {
    if (this.options.pinned && serial === this.options.pinned.id) {
      return this.options.pinned.publicKey;
    }
    const cert = this.certificates.get(normalSerial(serial));
    const now = this.clock();
    return cert && cert.validFrom <= now && now < cert.validTo ? cert.publicKey : undefined;
  };

  /** WeChat calls can be made: a key is pinned, or certificates arrived. */
  get ready(): boolean {
    return this.currentState() === 'ready';
  }

  /** Certificates fetched once but all expired since (refreshes failing): nothing verifies. */
  private currentState(): WechatPlatformKeysState {
    if (this.state !== 'ready' || this.options.pinned) return this.state;
    const now = this.clock();
    const valid = [...this.certificates.values()].some(
      (c) => c.validFrom <= now && now < c.validTo,
    );
    return valid ? 'ready' : 'unavailable';
  }

  status(): WechatPlatformKeysStatus {
    return {
      mode: !this.options.pinned
        ? 'platform-certificate'
        : this.certificates.size > 0
          ? 'migration'
          : 'public-key',
      state: this.currentState(),
      ...(this.currentState() === 'ready'
        ? {}
        : {
            reason:
              this.state === 'ready'
                ? 'every platform certificate has expired and no refresh brought new ones'
                : this.reason,
          }),
      serials: [
        ...(this.options.pinned ? [this.options.pinned.id] : []),
        ...[...this.certificates.values()].map((c) => c.serial),
      ],
      ...(this.lastFetchAt ? { lastFetchAt: new Date(this.lastFetchAt).toISOString() } : {}),
    };
  }

  /** Starts fetching (with backoff until one succeeds) and the 12-hour schedule. */
  start(fetch: Fetch): void {
    this.fetch = fetch;
    // With a public key, certificates are fetched only once WeChat names one (migration).
    if (this.options.fetchAtStart) void this.untilFetched(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /**
   * An answer or notification named a serial no key is known for. Refreshes
   * now unless a refresh for that reason ran less than a minute ago; requests
   * arriving while one is in flight wait for it.
   */
  async onUnknownSerial(serial: string): Promise<void> {
    if (!this.fetch || this.stopped) return;
    if (this.options.pinned && serial.startsWith('PUB_KEY_ID_')) return; // not a certificate
    // Joining a fetch already under way costs WeChat nothing.
    const inFlight = this.flight.current;
    if (inFlight) return inFlight;
    if (!this.limiter.tryAcquire()) return;
    this.options.logger.log(
      `Wechatpay-Serial ${serial.slice(0, 64)} unknown: fetching certificates`,
    );
    await this.refresh();
  }

  /** One fetch in flight at a time, whoever asks. */
  refresh(): Promise<void> {
    return this.flight.run(async () => {
      const outcome = await this.fetchOnce();
      this.options.countFetch(outcome);
    });
  }

  private async untilFetched(attempt: number): Promise<void> {
    if (this.stopped) return;
    await this.refresh();
    if (this.stopped) return;
    if (this.certificates.size > 0 || this.options.pinned) {
      this.schedule(SCHEDULED_REFRESH_MS, () => this.scheduledRefresh());
      return;
    }
    const delay = Math.min(START_BACKOFF_MS * 2 ** attempt, MAX_BACKOFF_MS);
    this.schedule(delay, () => void this.untilFetched(attempt + 1));
  }

  private scheduledRefresh(): void {
    void this.refresh().finally(() =>
      this.schedule(SCHEDULED_REFRESH_MS, () => this.scheduledRefresh()),
    );
  }

  private schedule(ms: number, then: () => void): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(then, ms);
    this.timer.unref();
  }

  private async fetchOnce(): Promise<FetchOutcome> {
    let fresh: PlatformCertificate[] = [];
    let answer: WechatV3Answer<unknown>;
    try {
      answer = await this.fetch!({
        keysFor: (status, text) => {
          if (status !== 200) return this.lookup;
          fresh = this.decrypt(text);
          const bySerial = new Map(fresh.map((c) => [normalSerial(c.serial), c.publicKey]));
          return (serial) => bySerial.get(normalSerial(serial)) ?? this.lookup(serial);
        },
      });
    } catch (error) {
      const message = (error as Error).message;
      const invalid = /not trusted|not JSON/.test(message);
      this.failed(`GET /v3/certificates failed: ${message}`);
      return invalid ? 'invalid' : 'unavailable';
    }
    if (answer.status === 404 && answer.code === 'RESOURCE_NOT_EXISTS') {
      if (this.options.pinned) {
        this.options.logger.warn(
          'GET /v3/certificates answered 404 RESOURCE_NOT_EXISTS: no platform certificate; ' +
            'answers are verified with the WeChat Pay public key only',
        );
        return 'not_found';
      }
      this.failed(
        'GET /v3/certificates answered 404 RESOURCE_NOT_EXISTS: this merchant has no platform ' +
          'certificate. Configure the WeChat Pay public key from the merchant platform ' +
          '(WECHAT_PLATFORM_PUBLIC_KEY or _FILE, and WECHAT_PLATFORM_PUBLIC_KEY_ID = its PUB_KEY_ID_…)',
      );
      return 'not_found';
    }
    if (answer.status !== 200) {
      this.failed(`GET /v3/certificates answered HTTP ${answer.status} ${answer.code ?? ''}`);
      return 'unavailable';
    }
    const now = this.clock();
    const valid = fresh.filter((c) => c.validFrom <= now && now < c.validTo);
    if (valid.length === 0) {
      this.failed('GET /v3/certificates listed no certificate valid now');
      return 'invalid';
    }
    const first = this.certificates.size === 0;
    this.certificates = new Map(valid.map((c) => [normalSerial(c.serial), c]));
    this.lastFetchAt = now;
    // A migrating merchant's first certificates: from now on they are kept fresh too.
    if (first && !this.options.fetchAtStart) {
      this.schedule(SCHEDULED_REFRESH_MS, () => this.scheduledRefresh());
    }
    this.state = 'ready';
    this.reason = undefined;
    this.options.logger.log(
      `WeChat Pay platform certificates: ${valid.map((c) => c.serial).join(', ')}`,
    );
    return 'ok';
  }

  private failed(message: string): void {
    this.options.logger.error(message);
    if (this.certificates.size === 0 && !this.options.pinned) {
      this.state = 'unavailable';
      this.reason = message;
    }
  }

  /** The answer's certificates; anything that does not decrypt or parse makes it untrusted. */
  private decrypt(text: string): PlatformCertificate[] {
    const body = JSON.parse(text) as { data?: CertificateItem[] };
    if (!Array.isArray(body.data)) throw new Error('no data[] in the certificates answer');
    return body.data.map((item) => {
      const enc = item.encrypt_certificate;
      if (
        typeof item.serial_no !== 'string' ||
        typeof enc?.nonce !== 'string' ||
        typeof enc.ciphertext !== 'string'
      ) {
        throw new Error('a certificate without serial_no or encrypt_certificate');
      }
      const pem = aeadAes256GcmDecrypt({
        key: this.options.apiV3Key,
        nonce: enc.nonce,
        associatedData: typeof enc.associated_data === 'string' ? enc.associated_data : '',
        ciphertext: enc.ciphertext,
      });
      const x509 = new X509Certificate(pem);
      if (normalSerial(x509.serialNumber) !== normalSerial(item.serial_no)) {
        throw new Error(`serial_no ${item.serial_no.slice(0, 64)} is not its certificate's`);
      }
      return {
        serial: item.serial_no.toUpperCase(),
        publicKey: x509.publicKey,
        validFrom: Date.parse(x509.validFrom),
        validTo: Date.parse(x509.validTo),
      };
    });
  }
}
