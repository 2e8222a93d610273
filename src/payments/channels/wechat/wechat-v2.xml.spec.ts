import { buildWechatXml, parseWechatXml, WechatXmlError } from './wechat-v2.xml';

describe('WeChat Pay v2 XML', () => {
  it('reads CDATA and plain values alike, unescaping only what XML predefines', () => {
    expect(
      parseWechatXml(
        '<xml><return_code><![CDATA[SUCCESS]]></return_code><total_fee>888</total_fee><body>a&amp;b &lt;c&gt;</body>\n</xml>',
      ),
    ).toEqual({ return_code: 'SUCCESS', total_fee: '888', body: 'a&b <c>' });
  });

  it('builds CDATA XML that parses back to the same fields, even with ]]> inside a value', () => {
    const fields = { appid: 'wx1', body: 'x]]>y <&>', total_fee: 1, empty: '' };
    const xml = buildWechatXml(fields);
    expect(xml.startsWith('<xml><appid><![CDATA[wx1]]></appid>')).toBe(true);
    expect(parseWechatXml(xml)).toEqual({
      appid: 'wx1',
      body: 'x]]>y <&>',
      total_fee: '1',
      empty: '',
    });
  });

  const billionLaughs =
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><xml><a>&lol3;</a></xml>';
  const xxe =
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><a>&xxe;</a></xml>';

  it.each([
    ['billion laughs', billionLaughs],
    ['XXE', xxe],
    ['lower-case doctype', '<!doctype xml><xml><a>1</a></xml>'],
    ['a field twice', '<xml><a>1</a><a>2</a></xml>'],
    ['nested fields', '<xml><a><b>1</b></a></xml>'],
    ['not XML', 'return_code=SUCCESS'],
    ['unclosed', '<xml><a>1</a>'],
    ['another root', '<foo><a>1</a></foo>'],
    ['two roots', '<xml><a>1</a></xml><xml><a>2</a></xml>'],
    ['text beside fields', '<xml>t<a>1</a></xml>'],
  ])('refuses %s with a WechatXmlError', (_name, body) => {
    expect(() => parseWechatXml(body)).toThrow(WechatXmlError);
  });

  it('never expands an entity: a declared one stays refused, an undeclared one stays text', () => {
    expect(parseWechatXml('<xml><a>&lol;</a></xml>')).toEqual({ a: '&lol;' });
  });

  it('refuses a body over the limit before parsing it', () => {
    const big = `<xml><a>${'x'.repeat(70 * 1024)}</a></xml>`;
    expect(() => parseWechatXml(big)).toThrow(/larger than/);
    expect(parseWechatXml(big, 'xml', 100 * 1024).a).toHaveLength(70 * 1024);
  });

  it('reads the <root> of a decrypted req_info', () => {
    expect(
      parseWechatXml('<root><out_refund_no><![CDATA[R1]]></out_refund_no></root>', 'root'),
    ).toEqual({
      out_refund_no: 'R1',
    });
  });
});
