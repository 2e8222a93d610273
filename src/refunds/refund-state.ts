/**
 * A refund's life: PENDING until the channel says for certain, then SUCCEEDED
 * or FAILED, never back. Every change is `… WHERE id = ? AND status = 'PENDING'`.
 */
export enum RefundStatus {
  PENDING = 'PENDING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
}

/**
 * merchant — asked for through the API, counts towards the order's refundedAmount;
 * duplicate_payment — a second attempt paid after its order was paid;
 * late_payment — paid after its order closed, under LATE_PAYMENT_POLICY=refund.
 */
export type RefundKind = 'merchant' | 'duplicate_payment' | 'late_payment';
export const REFUND_KINDS: readonly RefundKind[] = [
  'merchant',
  'duplicate_payment',
  'late_payment',
];
