import { Inject, Injectable } from '@nestjs/common';
import { DomainError } from '../common/errors/domain-error';
import { Channel, PAYMENT_PROVIDERS, PaymentProvider } from './payment-provider';

/** Finds the provider for a channel; two providers for one channel stop boot. */
@Injectable()
export class ProviderRegistry {
  private readonly byChannel = new Map<Channel, PaymentProvider>();

  constructor(@Inject(PAYMENT_PROVIDERS) providers: PaymentProvider[]) {
    for (const provider of providers) {
      if (this.byChannel.has(provider.channel)) {
        throw new Error(`two payment providers registered for channel ${provider.channel}`);
      }
      this.byChannel.set(provider.channel, provider);
    }
  }

  get(channel: Channel): PaymentProvider {
    const provider = this.byChannel.get(channel);
    if (!provider) {
      throw new DomainError(
        'VALIDATION_FAILED',
        `channel: ${channel} is not available on this paygate`,
      );
    }
    return provider;
  }

  /** Each channel that reports a state of its own, for /health. */
  health(): Partial<Record<Channel, Record<string, unknown>>> {
    const states: Partial<Record<Channel, Record<string, unknown>>> = {};
    for (const [channel, provider] of this.byChannel) {
      if (provider.health) states[channel] = provider.health();
    }
    return states;
  }

  has(channel: Channel): boolean {
    return this.byChannel.has(channel);
  }
}
