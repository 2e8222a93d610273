import { Column, Entity, PrimaryColumn } from 'typeorm';
import { TimeColumn } from '../../database/entity-columns';

/** One POST of a delivery: what came back and how long it took. */
@Entity('webhook_attempts')
export class WebhookAttempt {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  id!: string;

  @Column({ name: 'delivery_id', type: 'varchar', length: 32 })
  deliveryId!: string;

  @Column({ name: 'attempt_no', type: 'integer' })
  attemptNo!: number;

  @Column({ name: 'status_code', type: 'integer', nullable: true })
  statusCode!: number | null;

  @Column({ type: 'varchar', length: 512, nullable: true })
  error!: string | null;

  @Column({ name: 'latency_ms', type: 'integer' })
  latencyMs!: number;

  @TimeColumn('attempted_at')
  attemptedAt!: Date;
}
