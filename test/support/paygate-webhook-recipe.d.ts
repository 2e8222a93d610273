import type { Router } from 'express';

/** Types for paygate-webhook-recipe.js, which is the README snippet verbatim (plain JavaScript). */
export interface PaygateEvent {
  id: string;
  type: 'order.paid' | 'order.closed' | 'refund.succeeded' | 'refund.failed';
  createdAt: string;
  data: Record<string, unknown>;
}

export function verifyPaygateSignature(
  header: string | undefined,
  rawBody: Buffer | string,
  secret: string,
  toleranceSeconds?: number,
): boolean;

export function paygateWebhooks(
  secret: string,
  handle: (event: PaygateEvent) => Promise<void> | void,
): Router;
