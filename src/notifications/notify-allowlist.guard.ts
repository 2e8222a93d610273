import {
  CanActivate,
  ExecutionContext,
  Inject,
  Injectable,
  Logger,
  SetMetadata,
} from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { BlockList, isIPv4 } from 'node:net';
import { DomainError } from '../common/errors/domain-error';
import { alipayConfig } from '../config/alipay.config';
import { wechatConfig } from '../config/wechat.config';
import type { Channel } from '../payments/payment-provider';

export const NOTIFY_CHANNEL = 'paygate:notify-channel';
/** Marks a callback controller with the channel whose allowlist guards it. */
export const NotifyChannel = (channel: Channel): ClassDecorator & MethodDecorator =>
  SetMetadata(NOTIFY_CHANNEL, channel);

/** The caller's address: the TCP peer, or X-Forwarded-For only when the peer is a proxy TRUST_PROXY names (Express does that part). */
export function callerIp(req: Request): string {
  const ip = req.ip ?? req.socket.remoteAddress ?? '';
  return ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
}

export function buildBlockList(cidrs: string[]): BlockList | undefined {
  if (cidrs.length === 0) return undefined;
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [addr, bits] = cidr.split('/');
    const type = isIPv4(addr) ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}

/** 403 for callers outside the channel's notify allowlist (empty list: anyone). */
@Injectable()
export class NotifyAllowlistGuard implements CanActivate {
  private readonly logger = new Logger(NotifyAllowlistGuard.name);
  private readonly lists: Partial<Record<Channel, BlockList>>;

  constructor(
    private readonly reflector: Reflector,
    @Inject(alipayConfig.KEY) alipay: ConfigType<typeof alipayConfig>,
    @Inject(wechatConfig.KEY) wechat: ConfigType<typeof wechatConfig>,
  ) {
    this.lists = {
      alipay: buildBlockList(alipay.notifyAllowIps),
      wechat: buildBlockList(wechat.notifyAllowIps),
    };
  }

  canActivate(context: ExecutionContext): boolean {
    const channel = this.reflector.getAllAndOverride<Channel | undefined>(NOTIFY_CHANNEL, [
      context.getHandler(),
      context.getClass(),
    ]);
    const list = channel ? this.lists[channel] : undefined;
    if (!list) return true;
    const req = context.switchToHttp().getRequest<Request>();
    const ip = callerIp(req);
    if (ip && list.check(ip, isIPv4(ip) ? 'ipv4' : 'ipv6')) return true;
    this.logger.warn(`refused ${channel} notification from ${ip} (not in its allowlist)`);
    throw new DomainError(
      'FORBIDDEN',
      `caller ${ip} is not allowed to send ${channel} notifications`,
    );
  }
}
