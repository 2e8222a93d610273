import { parseSignatureHeader, signWebhook, verifyWebhookSignature } from './webhook-signer';

// Fixed vector, computed independently of this code with
//   printf '%s' '1700000000.{"id":"evt_1","type":"order.paid"}' | openssl dgst -sha256 -hmac whsec_test_secret_0123456789abcdef
const SECRET = 'whsec_test_secret_0123456789abcdef';
const BODY = '{"id":"evt_1","type":"order.paid"}';
const T = 1_700_000_000;
const V1 = '2e78d1152169f1bf22a30a248858be2a88e68fe66a574f782ce6e1e3bde296d0';
const AT_T = new Date(T * 1000);

describe('signWebhook', () => {
  it('matches the fixed vector', () => {
    expect(signWebhook(SECRET, BODY, T)).toBe(`t=${T},v1=${V1}`);
  });

  it('signs under each secret of a rotation, in the order given', () => {
    // The second v1 computed as above, with -hmac whsec_other_secret_0123456789.
    const other = 'whsec_other_secret_0123456789';
    const header = signWebhook([SECRET, other], BODY, T);
    expect(header.startsWith(`t=${T},v1=${V1},v1=`)).toBe(true);
    expect(header).toBe(`t=${T},v1=${V1},${signWebhook(other, BODY, T).split(',')[1]}`);
    expect(verifyWebhookSignature(header, BODY, other, 300, AT_T)).toBe(true);
    expect(verifyWebhookSignature(header, BODY, SECRET, 300, AT_T)).toBe(true);
  });

  it('signs bytes, so a Buffer and its string agree', () => {
    expect(signWebhook(SECRET, Buffer.from(BODY, 'utf8'), T)).toBe(signWebhook(SECRET, BODY, T));
  });
});

describe('verifyWebhookSignature', () => {
  const header = `t=${T},v1=${V1}`;

  it('accepts the fixed vector within the tolerance', () => {
    expect(verifyWebhookSignature(header, BODY, SECRET, 300, AT_T)).toBe(true);
    expect(verifyWebhookSignature(header, BODY, SECRET, 300, new Date((T + 299) * 1000))).toBe(
      true,
    );
  });

  it('refuses a timestamp outside the tolerance, in either direction', () => {
    expect(verifyWebhookSignature(header, BODY, SECRET, 300, new Date((T + 301) * 1000))).toBe(
      false,
    );
    expect(verifyWebhookSignature(header, BODY, SECRET, 300, new Date((T - 301) * 1000))).toBe(
      false,
    );
  });

  it('refuses another secret, a changed body and a changed timestamp', () => {
    expect(verifyWebhookSignature(header, BODY, `${SECRET}x`, 300, AT_T)).toBe(false);
    expect(verifyWebhookSignature(header, BODY.replace('paid', 'closed'), SECRET, 300, AT_T)).toBe(
      false,
    );
    expect(verifyWebhookSignature(`t=${T + 1},v1=${V1}`, BODY, SECRET, 300, AT_T)).toBe(false);
  });

  it('accepts any one of several v1 signatures (secret rotation)', () => {
    const other = signWebhook('whsec_the_old_secret_0123456789', BODY, T).split('v1=')[1];
    expect(verifyWebhookSignature(`t=${T},v1=${other},v1=${V1}`, BODY, SECRET, 300, AT_T)).toBe(
      true,
    );
    expect(verifyWebhookSignature(`t=${T},v1=${other}`, BODY, SECRET, 300, AT_T)).toBe(false);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['no v1', `t=${T}`],
    ['no t', `v1=${V1}`],
    ['t not a number', `t=abc,v1=${V1}`],
    ['two t', `t=${T},t=${T},v1=${V1}`],
    ['short v1', `t=${T},v1=${V1.slice(2)}`],
    ['v1 not hex', `t=${T},v1=${'z'.repeat(64)}`],
  ])('refuses a malformed header (%s)', (_name, bad) => {
    expect(verifyWebhookSignature(bad, BODY, SECRET, 300, AT_T)).toBe(false);
  });
});

describe('parseSignatureHeader', () => {
  it('tolerates spaces and ignores unknown schemes', () => {
    expect(parseSignatureHeader(` t=${T} , v0=abc, v1=${V1.toUpperCase()} `)).toEqual({
      t: T,
      v1: [V1],
    });
  });
});
