import { MESSAGES, pickLanguage } from './checkout-language';

describe('pickLanguage', () => {
  it.each([
    [undefined, 'zh'],
    ['', 'zh'],
    ['en-US,en;q=0.9', 'en'],
    ['zh-CN,zh;q=0.9,en;q=0.8', 'zh'],
    ['en-GB;q=0.8,zh-TW;q=0.9', 'zh'],
    ['fr-FR,fr;q=0.9,en;q=0.5', 'en'],
    ['fr-FR', 'zh'],
    ['de,*;q=0.1', 'zh'],
    ['en;q=0,zh;q=0.1', 'zh'],
    ['EN-us', 'en'],
    ['en;q=abc', 'zh'],
  ])('%p → %s', (header, language) => {
    expect(pickLanguage(header)).toBe(language);
  });

  it('has every sentence in both languages', () => {
    expect(Object.keys(MESSAGES.zh).sort()).toEqual(Object.keys(MESSAGES.en).sort());
  });
});
