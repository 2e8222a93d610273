import { SetMetadata } from '@nestjs/common';

/** merchant: MERCHANT_API_KEY; admin: ADMIN_API_KEY; client: an order's X-Client-Secret, for that order only. */
export type AccessKind = 'merchant' | 'admin' | 'client';

export const ACCESS_KEY = 'paygate:access';

/** Who may call a controller or route. Routes without it (callbacks, health, sandbox) are open. */
export const Access = (...kinds: AccessKind[]): MethodDecorator & ClassDecorator =>
  SetMetadata(ACCESS_KEY, kinds);

export interface Principal {
  kind: AccessKind;
  /** For client-secret callers: the one order they may touch. */
  orderId?: string;
}

export const CLIENT_SECRET_HEADER = 'x-client-secret';
