import { DomainError } from '../common/errors/domain-error';
import type { PaymentProvider } from './payment-provider';
import { ProviderRegistry } from './provider-registry';

const fake = (channel: 'alipay' | 'wechat'): PaymentProvider => ({ channel }) as PaymentProvider;

describe('ProviderRegistry', () => {
  it('finds a provider by channel', () => {
    const alipay = fake('alipay');
    expect(new ProviderRegistry([alipay]).get('alipay')).toBe(alipay);
  });

  it('refuses two providers for one channel', () => {
    expect(() => new ProviderRegistry([fake('alipay'), fake('alipay')])).toThrow(
      /two payment providers/,
    );
  });

  it('answers a 400 naming the field for a channel that is not there', () => {
    const error = (() => {
      try {
        new ProviderRegistry([fake('alipay')]).get('wechat');
      } catch (e) {
        return e as DomainError;
      }
    })();
    expect(error).toBeInstanceOf(DomainError);
    expect(error?.status).toBe(400);
    expect(error?.message).toContain('channel');
  });
});
