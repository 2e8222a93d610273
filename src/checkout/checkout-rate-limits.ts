import { Injectable } from '@nestjs/common';
import { RateLimiter } from './rate-limiter';

/**
 * How often one address may ask for the checkout page and its status. Generous
 * enough for several buyers behind one NAT, tight enough that nobody scrapes or
 * hammers the page; a refusal is a 429 with Retry-After.
 */
@Injectable()
export class CheckoutRateLimits {
  /** Page views: 30 at once, then one every 2 seconds. */
  readonly page = new RateLimiter({ burst: 30, perSecond: 0.5 });
  /** Status polls: an open page asks every 1.5 s; 60 at once, then 5 a second. */
  readonly status = new RateLimiter({ burst: 60, perSecond: 5 });
}
