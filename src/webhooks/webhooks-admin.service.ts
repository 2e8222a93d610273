import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In } from 'typeorm';
import { ListDeliveriesQuery } from './dto/list-deliveries.query';
import { keysetPage, mapPage } from '../common/pagination/keyset';
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
    const qb = this.dataSource.manager.createQueryBuilder(WebhookDelivery, 'd');
    if (query.status) qb.andWhere('d.status = :status', { status: query.status });
    if (query.orderId) qb.andWhere('d.orderId = :orderId', { orderId: query.orderId });
    if (query.eventId) qb.andWhere('d.eventId = :eventId', { eventId: query.eventId });
    const page = await keysetPage(qb, 'd', 'createdAt', query);
    const types = await this.eventTypes(page.items.map((d) => d.eventId));
    return mapPage(page, (d) => WebhookDeliveryResponse.of(d, types.get(d.eventId)!));
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
