import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import { DomainError } from '../common/errors/domain-error';
import { secretsConfig } from '../config/secrets.config';
import { OrdersService } from '../orders/orders.service';
import { ACCESS_KEY, AccessKind, CLIENT_SECRET_HEADER, Principal } from './access.decorator';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Compares digests, so neither the length nor a prefix of a key leaks through timing. */
function matchesAny(candidate: string, keys: Buffer[]): boolean {
  const d = digest(candidate);
  let found = false;
  for (const key of keys) found = timingSafeEqual(d, key) || found;
  return found;
}

/**
 * 401 for no or unknown credentials, 403 for valid credentials of the wrong
 * kind (an admin key on the merchant API, a client secret outside its order).
 */
@Injectable()
export class ApiAuthGuard implements CanActivate {
  private readonly merchantKeys: Buffer[];
  private readonly adminKeys: Buffer[];

  constructor(
    private readonly reflector: Reflector,
    private readonly orders: OrdersService,
    @Inject(secretsConfig.KEY) secrets: ConfigType<typeof secretsConfig>,
  ) {
    this.merchantKeys = secrets.merchantApiKeys.map(digest);
    this.adminKeys = [digest(secrets.adminApiKey)];
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const allowed = this.reflector.getAllAndOverride<AccessKind[] | undefined>(ACCESS_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!allowed) return true;
    const req = context.switchToHttp().getRequest<Request & { principal?: Principal }>();
    const principal = await this.identify(req);
    if (!allowed.includes(principal.kind)) {
      throw new DomainError(
        'FORBIDDEN',
        `these credentials (${principal.kind}) may not call this endpoint`,
      );
    }
    if (principal.kind === 'client' && req.params.id !== principal.orderId) {
      throw new DomainError('FORBIDDEN', 'this client secret belongs to another order');
    }
    req.principal = principal;
    return true;
  }

  private async identify(req: Request): Promise<Principal> {
    const authorization = req.header('authorization');
    const clientSecret = req.header(CLIENT_SECRET_HEADER);
    if (authorization !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!match) throw new DomainError('UNAUTHENTICATED', 'Authorization must be "Bearer <key>"');
      if (matchesAny(match[1], this.merchantKeys)) return { kind: 'merchant' };
      if (matchesAny(match[1], this.adminKeys)) return { kind: 'admin' };
      throw new DomainError('UNAUTHENTICATED', 'unknown API key');
    }
    if (clientSecret !== undefined) {
      const orderId = /^cs_[0-9A-Za-z]{16,64}$/.test(clientSecret)
        ? await this.orders.findIdByClientSecret(clientSecret)
        : undefined;
      if (!orderId) throw new DomainError('UNAUTHENTICATED', 'unknown client secret');
      return { kind: 'client', orderId };
    }
    throw new DomainError(
      'UNAUTHENTICATED',
      'missing credentials: send Authorization: Bearer <key>',
    );
  }
}
