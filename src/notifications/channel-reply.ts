import type { Response } from 'express';
import type { RawReply } from '../payments/payment-provider';

/**
 * Writes a channel's reply as it is: status, content type and exact body.
 * Channels compare the body only, so Express's `send` (ETag, freshness,
 * content negotiation) has nothing to add on this path, which every
 * notification takes.
 */
export function writeChannelReply(res: Response, reply: RawReply): void {
  const body = Buffer.from(reply.body, 'utf8');
  res.writeHead(reply.status, { 'Content-Type': reply.contentType, 'Content-Length': body.length });
  res.end(body);
}
