/**
 * The few X.509 fields node:crypto's X509Certificate does not give as written:
 * the issuer's attributes in the certificate's own RDN order with their raw
 * values (X509Certificate.issuer is an RFC 2253-escaped, newline-joined text),
 * and the outer signature algorithm OID. A minimal DER walk over the
 * Certificate / TBSCertificate structure of RFC 5280 section 4.1; nothing else
 * of the certificate is interpreted here.
 */

export interface X509NameAttribute {
  /** Dotted OID of the attribute type, e.g. 2.5.4.3 for CN. */
  oid: string;
  value: string;
}

export interface X509Fields {
  /** Issuer attributes in the order the certificate encodes them (usually C first). */
  issuer: X509NameAttribute[];
  /** Serial number as unsigned lowercase hex, without leading zero bytes. */
  serialNumberHex: string;
  /** Certificate.signatureAlgorithm, e.g. 1.2.840.113549.1.1.11 for sha256WithRSAEncryption. */
  signatureAlgorithmOid: string;
}

export class X509FormatError extends Error {
  constructor(reason: string) {
    super(`not a DER X.509 certificate: ${reason}`);
    this.name = 'X509FormatError';
  }
}

interface Tlv {
  tag: number;
  /** First content byte. */
  start: number;
  /** One past the last content byte. */
  end: number;
}

function readTlv(der: Buffer, offset: number, limit: number): Tlv {
  if (offset + 2 > limit) throw new X509FormatError('truncated');
  const tag = der[offset];
  if ((tag & 0x1f) === 0x1f) throw new X509FormatError('high tag numbers are not used in X.509');
  let length = der[offset + 1];
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || start + count > limit) {
      throw new X509FormatError('bad length');
    }
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[start + i];
    start += count;
  }
  const end = start + length;
  if (end > limit) throw new X509FormatError('truncated');
  return { tag, start, end };
}

/** The TLVs directly inside a constructed value. */
function children(der: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end;) {
    const child = readTlv(der, at, parent.end);
    out.push(child);
    at = child.end;
  }
  return out;
}

const SEQUENCE = 0x30;
const SET = 0x31;
const INTEGER = 0x02;
const OID = 0x06;

function expect(tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (!tlv || tlv.tag !== tag) throw new X509FormatError(`${what} missing`);
  return tlv;
}

function decodeOid(bytes: Buffer): string {
  if (bytes.length === 0) throw new X509FormatError('empty OID');
  const arcs: number[] = [];
  let value = 0;
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      if (arcs.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        arcs.push(first, value - first * 40);
      } else {
        arcs.push(value);
      }
      value = 0;
    }
  }
  return arcs.join('.');
}

function decodeString(tag: number, bytes: Buffer): string {
  switch (tag) {
    case 0x0c: // UTF8String
      return bytes.toString('utf8');
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x14: // TeletexString, in practice Latin-1
      return bytes.toString('latin1');
    case 0x1e: {
      // BMPString: UTF-16 big-endian
      const swapped = Buffer.from(bytes);
      swapped.swap16();
      return swapped.toString('utf16le');
    }
    case 0x1c: // UniversalString: UTF-32 big-endian
      return String.fromCodePoint(
        ...Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readUInt32BE(i * 4)),
      );
    default:
      throw new X509FormatError(`unsupported string type 0x${tag.toString(16)} in a name`);
  }
}

export function readX509Fields(der: Buffer): X509Fields {
  const cert = expect(readTlv(der, 0, der.length), SEQUENCE, 'Certificate');
  const [tbs, signatureAlgorithm] = children(der, cert);
  const tbsFields = children(der, expect(tbs, SEQUENCE, 'TBSCertificate'));
  // version is [0] EXPLICIT and absent for v1 certificates.
  const rest = tbsFields[0]?.tag === 0xa0 ? tbsFields.slice(1) : tbsFields;
  const serial = expect(rest[0], INTEGER, 'serialNumber');
  const issuer = expect(rest[2], SEQUENCE, 'issuer');

  const attributes: X509NameAttribute[] = [];
  for (const rdn of children(der, issuer)) {
    for (const atv of children(der, expect(rdn, SET, 'RelativeDistinguishedName'))) {
      const [type, value] = children(der, expect(atv, SEQUENCE, 'AttributeTypeAndValue'));
      const oid = decodeOid(der.subarray(expect(type, OID, 'attribute type').start, type.end));
      if (!value) throw new X509FormatError('attribute value missing');
      attributes.push({
        oid,
        value: decodeString(value.tag, der.subarray(value.start, value.end)),
      });
    }
  }

  const algorithm = children(der, expect(signatureAlgorithm, SEQUENCE, 'signatureAlgorithm'))[0];
  const algorithmOid = expect(algorithm, OID, 'signature algorithm OID');
  const serialHex = der
    .subarray(serial.start, serial.end)
    .toString('hex')
    .replace(/^(00)+/, '');
  return {
    issuer: attributes,
    serialNumberHex: serialHex === '' ? '0' : serialHex,
    signatureAlgorithmOid: decodeOid(der.subarray(algorithmOid.start, algorithmOid.end)),
  };
}

/** Every `CERTIFICATE` block of a PEM text, as DER, in file order. */
export function pemCertificates(pem: string): Buffer[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) =>
    Buffer.from(block.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, ''), 'base64'),
  );
}
