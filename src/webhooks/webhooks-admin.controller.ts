import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access } from '../auth/access.decorator';
import { ErrorResponses } from '../common/http/error-responses.decorator';
import { ListDeliveriesQuery } from './dto/list-deliveries.query';
import {
  RedeliverResponse,
  WebhookDeliveryDetailResponse,
  WebhookDeliveryListResponse,
} from './dto/webhook-delivery.response';
import { WebhooksAdminService } from './webhooks-admin.service';

@ApiTags('webhooks')
@ApiBearerAuth('admin')
@Access('admin')
@Controller('admin/webhooks/deliveries')
export class WebhooksAdminController {
  constructor(private readonly admin: WebhooksAdminService) {}

  @Get()
  @ApiOperation({ summary: 'Merchant webhook deliveries, newest first, by status, order or event' })
  @ApiOkResponse({ type: WebhookDeliveryListResponse })
  @ErrorResponses(400, 401, 403)
  list(@Query() query: ListDeliveriesQuery): Promise<WebhookDeliveryListResponse> {
    return this.admin.list(query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One delivery with its event payload and every attempt' })
  @ApiOkResponse({ type: WebhookDeliveryDetailResponse })
  @ErrorResponses(401, 403, 'WEBHOOK_DELIVERY_NOT_FOUND')
  get(@Param('id') id: string): Promise<WebhookDeliveryDetailResponse> {
    return this.admin.get(id);
  }

  @Post(':id/redeliver')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Send this delivery again now',
    description:
      'Puts the delivery back to PENDING, due now (its attempt count and history are kept), and ' +
      'attempts it at once; the answer shows the outcome. A delivery that had used up its retries ' +
      'gets this one attempt; one still retrying skips its wait. 409 while an instance is sending it.',
  })
  @ApiOkResponse({ type: RedeliverResponse })
  @ErrorResponses(401, 403, 'WEBHOOK_DELIVERY_NOT_FOUND', 'WEBHOOK_DELIVERY_IN_FLIGHT')
  redeliver(@Param('id') id: string): Promise<RedeliverResponse> {
    return this.admin.redeliver(id);
  }
}
