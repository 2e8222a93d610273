/**
 * WeChat Pay API v2 XML (protocols.md B1): one root element whose children are
 * flat `<name>value</name>` fields, strings usually in CDATA. Parsed with
 * fast-xml-parser set up so that nothing is ever expanded: a body naming a
 * DOCTYPE or an ENTITY is refused before the parser sees it (XXE, billion
 * laughs), entity processing is off, and the size is bounded.
 */
import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';

/** No v2 message comes near this; a notification or an answer larger is refused unread. */
export const WECHAT_V2_MAX_XML_BYTES = 64 * 1024;
const MAX_FIELDS = 200;

export class WechatXmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WechatXmlError';
  }
}

const parser = new XMLParser({
  processEntities: false,
  htmlEntities: false,
  ignoreAttributes: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  parseTagValue: false,
  trimValues: false,
  // CDATA kept apart, so that a CDATA value is taken exactly as written and a plain one unescaped.
  cdataPropName: '#cdata',
  maxNestedTags: 4,
});

const builder = new XMLBuilder({ cdataPropName: '#cdata', suppressEmptyNode: false });

/** The five entities XML itself predefines (and numeric references): what a plain text value may carry. */
function unescapeText(text: string): string {
  return text.replace(/&(lt|gt|amp|quot|apos|#\d{1,7}|#x[0-9a-fA-F]{1,6});/g, (_, name: string) => {
    switch (name) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default: {
        const code = name[1] === 'x' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
        return code <= 0x10ffff ? String.fromCodePoint(code) : '';
      }
    }
  });
}

function fieldValue(name: string, node: unknown): string {
  if (typeof node === 'string') return unescapeText(node.trim());
  if (node && typeof node === 'object' && !Array.isArray(node)) {
    const parts = node as Record<string, unknown>;
    const keys = Object.keys(parts);
    if (keys.every((k) => k === '#cdata' || k === '#text')) {
      const cdata = parts['#cdata'];
      const text = typeof parts['#text'] === 'string' ? parts['#text'].trim() : '';
      if (Array.isArray(cdata)) return cdata.map(String).join('') + unescapeText(text);
      if (typeof cdata === 'string') return cdata + unescapeText(text);
    }
  }
  throw new WechatXmlError(`field ${name} is not a flat text value`);
}

/**
 * The fields of a v2 message. Throws WechatXmlError (never anything else) for a
 * body that is too large, not XML, hostile, not rooted at `root`, nested, or
 * carries a field twice.
 */
export function parseWechatXml(
  body: string | Buffer,
  root: 'xml' | 'root' = 'xml',
  maxBytes = WECHAT_V2_MAX_XML_BYTES,
): Record<string, string> {
  const size = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.length;
  if (size > maxBytes) throw new WechatXmlError(`XML larger than ${maxBytes} bytes`);
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) {
    throw new WechatXmlError('XML with a DOCTYPE or ENTITY declaration is refused');
  }
  if (!text.trimStart().startsWith('<') || XMLValidator.validate(text) !== true) {
    throw new WechatXmlError('not well-formed XML');
  }
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new WechatXmlError(`not well-formed XML (${(error as Error).message})`);
  }
  const roots = Object.keys(doc);
  if (roots.length !== 1 || roots[0] !== root) {
    throw new WechatXmlError(`XML root must be <${root}>`);
  }
  const content = doc[root];
  if (content === '' || content === undefined) return {};
  if (!content || typeof content !== 'object' || Array.isArray(content)) {
    throw new WechatXmlError(`<${root}> must hold fields`);
  }
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  const entries = Object.entries(content as Record<string, unknown>);
  if (entries.length > MAX_FIELDS) throw new WechatXmlError(`more than ${MAX_FIELDS} fields`);
  for (const [name, node] of entries) {
    if (name === '#text') {
      if (typeof node === 'string' && node.trim() === '') continue;
      throw new WechatXmlError(`<${root}> holds text outside any field`);
    }
    if (Array.isArray(node)) throw new WechatXmlError(`field ${name} appears more than once`);
    fields[name] = fieldValue(name, node);
  }
  return { ...fields };
}

/** `<xml>` with every value in CDATA, as WeChat writes it (`]]>` inside a value is split). */
export function buildWechatXml(fields: Record<string, string | number>, root = 'xml'): string {
  const content: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new TypeError(`bad XML field name ${name}`);
    const text = String(value);
    content[name] = text.includes(']]>')
      ? {
          '#cdata': text
            .split(']]>')
            .map((part, i, all) => (i < all.length - 1 ? `${part}]]` : `>${part}`)),
        }
      : { '#cdata': text };
  }
  return builder.build({ [root]: content });
}
