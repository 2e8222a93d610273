import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In } from 'typeorm';
import { DomainError } from '../common/errors/domain-error';
import { sqlTime } from '../database/sql-time';
import { DEFAULT_PAGE_SIZE, ListDeliveriesQuery } from './dto/list-deliveries.query';
import {
  RedeliverResponse,
  WebhookAttemptResponse,
  WebhookDeliveryDetailResponse,
  WebhookDeliveryListResponse,
  WebhookDeliveryResponse,
  WebhookEventResponse,
} from './dto/webhook-delivery.response';
import { WebhookAttempt } from './entities/webhook-attempt.entity';
import { WebhookDelivery } from './entities/webhook-delivery.entity';
import { WebhookEvent, WebhookEventType } from './entities/webhook-event.entity';
import { WebhookDeliveryService, deliveryNotFound } from './webhook-delivery.service';

const DELIVERY_ID = /^whd_[0-9A-Za-z]{24}$/;

/** What admins see of the outbox, and their one action on it: redeliver now. */
@Injectable()
export class WebhooksAdminService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly deliveries: WebhookDeliveryService,
  ) {}

  /** Newest first, by keyset (created_at, id), so pages stay stable while rows are added. */
  async list(query: ListDeliveriesQuery): Promise<WebhookDeliveryListResponse> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const qb = this.dataSource.manager.createQueryBuilder(WebhookDelivery, 'd');
    if (query.status) qb.andWhere('d.status = :status', { status: query.status });
    if (query.orderId) qb.andWhere('d.orderId = :orderId', { orderId: query.orderId });
    if (query.eventId) qb.andWhere('d.eventId = :eventId', { eventId: query.eventId });
    if (query.cursor) {
      const after = decodeCursor(query.cursor);
      qb.andWhere('(d.createdAt < :cAt OR (d.createdAt = :cAt AND d.id < :cId))', {
        cAt: sqlTime(after.createdAt),
        cId: after.id,
      });
    }
    const rows = await qb
      .orderBy('d.createdAt', 'DESC')
      .addOrderBy('d.id', 'DESC')
      .limit(limit + 1)
      .getMany();
    const page = rows.slice(0, limit);
    const types = await this.eventTypes(page.map((d) => d.eventId));
    const last = page[page.length - 1];
    return {
      items: page.map((d) => WebhookDeliveryResponse.of(d, types.get(d.eventId)!)),
      nextCursor: rows.length > limit && last ? encodeCursor(last) : null,
    };
  }

  async get(id: string): Promise<WebhookDeliveryDetailResponse> {
    const delivery = DELIVERY_ID.test(id)
      ? await this.dataSource.manager.findOneBy(WebhookDelivery, { id })
      : null;
    if (!delivery) throw deliveryNotFound(id);
    const [event, attempts] = await Promise.all([
      this.dataSource.manager.findOneByOrFail(WebhookEvent, { id: delivery.eventId }),
      this.dataSource.manager.find(WebhookAttempt, {
        where: { deliveryId: id },
        order: { attemptNo: 'ASC', attemptedAt: 'ASC' },
      }),
    ]);
    return {
      delivery: WebhookDeliveryResponse.of(delivery, event.type),
      event: WebhookEventResponse.of(event),
      attempts: attempts.map((a) => WebhookAttemptResponse.of(a)),
    };
  }

  async redeliver(id: string): Promise<RedeliverResponse> {
    if (!DELIVERY_ID.test(id)) throw deliveryNotFound(id);
    const outcome = await this.deliveries.redeliver(id);
    return { outcome, ...(await this.get(id)) };
  }

  private async eventTypes(ids: string[]): Promise<Map<string, WebhookEventType>> {
    if (ids.length === 0) return new Map();
    const events = await this.dataSource.manager.find(WebhookEvent, {
      where: { id: In([...new Set(ids)]) },
      select: { id: true, type: true },
    });
    return new Map(events.map((e) => [e.id, e.type]));
  }
}

function encodeCursor(d: WebhookDelivery): string {
  return Buffer.from(`${d.createdAt.getTime()}.${d.id}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const match = /^(\d{1,15})\.(whd_[0-9A-Za-z]{24})$/.exec(
    Buffer.from(cursor, 'base64url').toString('utf8'),
  );
  if (!match) {
    throw new DomainError('VALIDATION_FAILED', 'cursor must be a nextCursor from this API', {
      fields: ['cursor'],
    });
  }
  return { createdAt: new Date(Number(match[1])), id: match[2] };
}
