import { ApiProperty } from '@nestjs/swagger';
import { WebhookAttempt } from '../entities/webhook-attempt.entity';
import { DeliveryStatus, WebhookDelivery } from '../entities/webhook-delivery.entity';
import { WebhookEvent, WebhookEventType } from '../entities/webhook-event.entity';

const EVENT_TYPES: WebhookEventType[] = [
  'order.paid',
  'order.closed',
  'refund.succeeded',
  'refund.failed',
];

export class WebhookDeliveryResponse {
  @ApiProperty({ example: 'whd_8bXq2NwL4pR0sTk3Zv9mYc1A' })
  id!: string;
  @ApiProperty({ example: 'evt_Zp4Q0cB1mW8xYt3RkLs2NdHa' })
  eventId!: string;
  @ApiProperty({ enum: EVENT_TYPES, example: 'order.paid' })
  eventType!: WebhookEventType;
  @ApiProperty({ example: 'ord_7QbXk2MZf0N3rVt9Lw1sYcAa' })
  orderId!: string;
  @ApiProperty({ example: 'https://shop.example.com/hooks/paygate' })
  url!: string;
  @ApiProperty({ enum: DeliveryStatus, example: DeliveryStatus.PENDING })
  status!: DeliveryStatus;
  @ApiProperty({ example: 2, description: 'attempts made so far' })
  attempts!: number;
  @ApiProperty({
    format: 'date-time',
    nullable: true,
    type: String,
    description: 'when the next attempt is due; null unless PENDING',
  })
  nextAttemptAt!: string | null;
  @ApiProperty({
    nullable: true,
    type: Number,
    example: 503,
    description: 'HTTP status of the last attempt; null when none came back',
  })
  lastStatus!: number | null;
  @ApiProperty({ nullable: true, type: String, example: 'timeout after 10000 ms' })
  lastError!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  deliveredAt!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'the instance sending it right now, if any',
    example: 'pay-1-4711-Ab3d#Q8x2LmZ0',
  })
  claimedBy!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  claimedUntil!: string | null;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;

  static of(d: WebhookDelivery, eventType: WebhookEventType): WebhookDeliveryResponse {
    const live = d.claimedUntil !== null && d.claimedUntil.getTime() > Date.now();
    return {
      id: d.id,
      eventId: d.eventId,
      eventType,
      orderId: d.orderId,
      url: d.url,
      status: d.status,
      attempts: d.attempts,
      nextAttemptAt: d.status === DeliveryStatus.PENDING ? d.nextAttemptAt.toISOString() : null,
      lastStatus: d.lastStatus,
      lastError: d.lastError,
      deliveredAt: d.deliveredAt?.toISOString() ?? null,
      claimedBy: live ? d.claimedBy : null,
      claimedUntil: live ? d.claimedUntil!.toISOString() : null,
      createdAt: d.createdAt.toISOString(),
      updatedAt: d.updatedAt.toISOString(),
    };
  }
}

export class WebhookDeliveryListResponse {
  @ApiProperty({ type: [WebhookDeliveryResponse], description: 'newest first' })
  items!: WebhookDeliveryResponse[];
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'pass as cursor for the next page; null on the last page',
  })
  nextCursor!: string | null;
}

export class WebhookAttemptResponse {
  @ApiProperty({ example: 1 })
  attemptNo!: number;
  @ApiProperty({ format: 'date-time' })
  attemptedAt!: string;
  @ApiProperty({ nullable: true, type: Number, example: 500 })
  statusCode!: number | null;
  @ApiProperty({ nullable: true, type: String, example: 'HTTP 500: upstream unavailable' })
  error!: string | null;
  @ApiProperty({ example: 132 })
  latencyMs!: number;

  static of(a: WebhookAttempt): WebhookAttemptResponse {
    return {
      attemptNo: a.attemptNo,
      attemptedAt: a.attemptedAt.toISOString(),
      statusCode: a.statusCode,
      error: a.error,
      latencyMs: a.latencyMs,
    };
  }
}

export class WebhookEventResponse {
  @ApiProperty({ example: 'evt_Zp4Q0cB1mW8xYt3RkLs2NdHa' })
  id!: string;
  @ApiProperty({ enum: EVENT_TYPES, example: 'order.paid' })
  type!: WebhookEventType;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
  @ApiProperty({
    type: Object,
    description: 'the body POSTed to the merchant: {id, type, createdAt, data}',
    example: {
      id: 'evt_Zp4Q0cB1mW8xYt3RkLs2NdHa',
      type: 'order.paid',
      createdAt: '2025-01-01T08:00:00.000Z',
      data: { id: 'ord_7QbXk2MZf0N3rVt9Lw1sYcAa', status: 'PAID', amount: 8880 },
    },
  })
  payload!: unknown;

  static of(e: WebhookEvent): WebhookEventResponse {
    return { id: e.id, type: e.type, createdAt: e.createdAt.toISOString(), payload: e.payload };
  }
}

export class WebhookDeliveryDetailResponse {
  @ApiProperty({ type: WebhookDeliveryResponse })
  delivery!: WebhookDeliveryResponse;
  @ApiProperty({ type: WebhookEventResponse })
  event!: WebhookEventResponse;
  @ApiProperty({ type: [WebhookAttemptResponse], description: 'oldest first' })
  attempts!: WebhookAttemptResponse[];
}

export class RedeliverResponse extends WebhookDeliveryDetailResponse {
  @ApiProperty({
    enum: ['delivered', 'retrying', 'failed', 'not_claimed', 'claim_lost'],
    example: 'delivered',
    description:
      'what the immediate attempt came to; not_claimed: another instance picked it up first',
  })
  outcome!: string;
}
