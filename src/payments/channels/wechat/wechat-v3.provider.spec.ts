import {
  createCipheriv,
  createSecretKey,
  createSign,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { MetricsService } from '../../../metrics/metrics.service';
import { NotificationRejected, type RawNotification } from '../../payment-provider';
import { WechatV3Provider, rfc3339Beijing } from './wechat-v3.provider';

// Notifications are built here with node:crypto alone (protocols.md C2, C3), so
// the test shares no code with the provider it checks.
const APIV3_KEY = 'Aa0Bb1Cc2Dd3Ee4Ff5Gg6Hh7Ii8Jj9Kk';
const PUB_KEY_ID = 'PUB_KEY_ID_0114232134912410000000000000TEST';
const platform = generateKeyPairSync('rsa', { modulusLength: 2048 });
const merchant = generateKeyPairSync('rsa', { modulusLength: 2048 });

function provider(): WechatV3Provider {
  return new WechatV3Provider(
    {
      appId: 'wxd678efh567hg6787',
      mchId: '1230000109',
      apiV3Key: createSecretKey(Buffer.from(APIV3_KEY)),
      privateKey: merchant.privateKey,
      certSerial: 'ABCDEF0123456789',
      platformKeys: new Map([[PUB_KEY_ID, platform.publicKey]]),
      baseUrl: 'http://127.0.0.1:9/sandbox/wechat',
      notifyUrl: 'http://127.0.0.1:9/notify/wechat/v3',
      timeoutMs: 1000,
    },
    new MetricsService(),
  );
}

function encrypt(plain: object, nonce = randomBytes(6).toString('hex'), aad = 'transaction') {
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(APIV3_KEY), Buffer.from(nonce));
  cipher.setAAD(Buffer.from(aad));
  const data = Buffer.concat([cipher.update(JSON.stringify(plain), 'utf8'), cipher.final()]);
  return {
    original_type: aad,
    algorithm: 'AEAD_AES_256_GCM',
    ciphertext: Buffer.concat([data, cipher.getAuthTag()]).toString('base64'),
    associated_data: aad,
    nonce,
  };
}

function notification(
  eventType: string,
  resource: object,
  options: { key?: KeyObject; serial?: string; at?: Date; tamper?: boolean } = {},
): RawNotification {
  const body = JSON.stringify({
    id: `EV-${randomBytes(6).toString('hex')}`,
    create_time: rfc3339Beijing(new Date()),
    resource_type: 'encrypt-resource',
    event_type: eventType,
    summary: 'x',
    resource: encrypt(
      resource,
      undefined,
      eventType.startsWith('REFUND') ? 'refund' : 'transaction',
    ),
  });
  const timestamp = String(Math.floor((options.at ?? new Date()).getTime() / 1000));
  const nonce = randomBytes(16).toString('hex');
  const signature = createSign('RSA-SHA256')
    .update(`${timestamp}\n${nonce}\n${body}\n`)
    .sign(options.key ?? platform.privateKey, 'base64');
  const sent = options.tamper ? body.replace('"summary":"x"', '"summary":"y"') : body;
  return {
    headers: {
      'wechatpay-timestamp': timestamp,
      'wechatpay-nonce': nonce,
      'wechatpay-signature': signature,
      'wechatpay-serial': options.serial ?? PUB_KEY_ID,
      'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
    },
    body: JSON.parse(sent),
    rawBody: Buffer.from(sent),
    sourceIp: '127.0.0.1',
  };
}

const paid = {
  appid: 'wxd678efh567hg6787',
  mchid: '1230000109',
  out_trade_no: 'T20240101001',
  transaction_id: '4200001234202401011234567890',
  trade_type: 'NATIVE',
  trade_state: 'SUCCESS',
  success_time: '2024-01-01T12:00:05+08:00',
  amount: { total: 8880, payer_total: 8880, currency: 'CNY', payer_currency: 'CNY' },
};

async function rejection(n: RawNotification): Promise<string> {
  try {
    await provider().verifyNotification(n);
  } catch (error) {
    if (error instanceof NotificationRejected) return error.reason;
    throw error;
  }
  return 'accepted';
}

describe('WechatV3Provider notifications', () => {
  it('a signed, encrypted TRANSACTION.SUCCESS is a payment with its amount, trade and time', async () => {
    const v = await provider().verifyNotification(notification('TRANSACTION.SUCCESS', paid));
    expect(v).toMatchObject({
      kind: 'payment',
      dedupeKey: expect.stringMatching(/^TRANSACTION\.SUCCESS:EV-/),
      state: {
        outTradeNo: 'T20240101001',
        status: 'PAID',
        amount: 8880,
        channelTradeNo: paid.transaction_id,
        paidAt: new Date('2024-01-01T04:00:05Z'),
      },
    });
    // The inbox keeps what identifies it, never the ciphertext's key material.
    expect(JSON.stringify(v.auditBody)).not.toContain(APIV3_KEY);
  });

  it('a REFUND.SUCCESS names the refund and states its outcome; it is never a payment', async () => {
    const v = await provider().verifyNotification(
      notification('REFUND.SUCCESS', {
        mchid: '1230000109',
        out_trade_no: 'T20240101001',
        transaction_id: paid.transaction_id,
        out_refund_no: 'R1',
        refund_id: '50000000382019052709732678859',
        refund_status: 'SUCCESS',
        amount: { total: 8880, refund: 1000, payer_total: 8880, payer_refund: 1000 },
      }),
    );
    expect(v.kind).toBe('refund');
    expect(v.refund).toEqual({
      outRefundNo: 'R1',
      state: {
        outRefundNo: 'R1',
        status: 'SUCCEEDED',
        amount: 1000,
        channelRefundNo: '50000000382019052709732678859',
      },
    });
  });

  it('refuses what does not check out, each for its own reason', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(
      await rejection(notification('TRANSACTION.SUCCESS', paid, { key: other.privateKey })),
    ).toBe('signature');
    expect(await rejection(notification('TRANSACTION.SUCCESS', paid, { tamper: true }))).toBe(
      'signature',
    );
    expect(
      await rejection(notification('TRANSACTION.SUCCESS', paid, { serial: 'PUB_KEY_ID_OTHER' })),
    ).toBe('signature');
    expect(
      await rejection(
        notification('TRANSACTION.SUCCESS', paid, { at: new Date(Date.now() - 301_000) }),
      ),
    ).toBe('timestamp');
    expect(
      await rejection(notification('TRANSACTION.SUCCESS', { ...paid, mchid: '1900000001' })),
    ).toBe('mch_id');
    expect(
      await rejection(
        notification('TRANSACTION.SUCCESS', { ...paid, appid: 'wx0000000000000000' }),
      ),
    ).toBe('app_id');
    const n = notification('TRANSACTION.SUCCESS', paid);
    // Validly signed, but the resource was encrypted under another APIv3 key.
    const wrongKey = new WechatV3Provider(
      {
        ...(
          provider() as unknown as { settings: ConstructorParameters<typeof WechatV3Provider>[0] }
        ).settings,
        apiV3Key: createSecretKey(Buffer.from('Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp')),
      },
      new MetricsService(),
    );
    await expect(wrongKey.verifyNotification(n)).rejects.toMatchObject({ reason: 'malformed' });
  });

  it('answers 204 when processed and a non-2xx {code:"FAIL"} otherwise', () => {
    const p = provider();
    expect(p.acknowledge('ok')).toMatchObject({ status: 204, body: '' });
    expect(p.acknowledge('retry').status).toBe(500);
    expect(JSON.parse(p.acknowledge('rejected').body)).toMatchObject({ code: 'FAIL' });
    expect(p.acknowledge('rejected').status).toBe(400);
  });

  it('writes time_expire in RFC 3339 Beijing time', () => {
    expect(rfc3339Beijing(new Date('2024-01-01T04:00:05.123Z'))).toBe('2024-01-01T12:00:05+08:00');
  });
});
