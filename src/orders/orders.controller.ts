import { Body, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiExtraModels,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { Access } from '../auth/access.decorator';
import { ErrorResponses } from '../common/http/error-responses.decorator';
import { mapPage } from '../common/pagination/keyset';
import { CreateOrderDto } from './dto/create-order.dto';
import { FindOrderQuery } from './dto/find-order.query';
import { OrderPageResponse, OrderResponse } from './dto/order.response';
import { OrdersService } from './orders.service';

@ApiTags('orders')
@ApiBearerAuth('merchant')
@Controller('api/orders')
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Post()
  @Access('merchant')
  @ApiOperation({
    summary: 'Create an order (idempotent on merchantOrderNo)',
    description:
      'Amounts are integers in fen (8880 = ¥88.80). The same merchantOrderNo, amount and subject again answers 200 with the ' +
      'existing order; a different amount or subject under that merchantOrderNo is 409 ORDER_CONFLICT.',
  })
  @ApiBody({
    type: CreateOrderDto,
    examples: {
      order: {
        summary: 'An order of ¥88.80',
        value: { merchantOrderNo: 'SO-1001', amount: 8880, subject: 'Blue mug' },
      },
      withWebhook: {
        summary: 'With a webhook URL, a return URL for the checkout page, a lifetime and metadata',
        value: {
          merchantOrderNo: 'SO-1002',
          amount: 8880,
          subject: 'Blue mug',
          description: 'one blue mug, 350 ml',
          expireSeconds: 1800,
          notifyUrl: 'https://shop.example.com/hooks/paygate',
          returnUrl: 'https://shop.example.com/orders/SO-1002',
          metadata: { cartId: 'c-1' },
        },
      },
    },
  })
  @ApiResponse({ status: 201, type: OrderResponse, description: 'created' })
  @ApiResponse({
    status: 200,
    type: OrderResponse,
    description: 'same merchantOrderNo, amount and subject: the existing order',
  })
  @ErrorResponses(400, 401, 403, 'ORDER_CONFLICT', 413)
  async create(
    @Body() dto: CreateOrderDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<OrderResponse> {
    const { order, created } = await this.orders.create(dto);
    res.status(created ? 201 : 200);
    return OrderResponse.of(order);
  }

  @Get()
  @Access('merchant')
  @ApiOperation({
    summary: 'Your orders, newest first — or, with merchantOrderNo, that one order',
    description:
      'Without merchantOrderNo: `{items, nextCursor}` filtered by status and creation time (createdFrom inclusive, ' +
      'createdTo exclusive); pass nextCursor as cursor for the next page. With merchantOrderNo: that Order, or 404.',
  })
  @ApiExtraModels(OrderPageResponse)
  @ApiOkResponse({
    schema: {
      oneOf: [{ $ref: getSchemaPath(OrderPageResponse) }, { $ref: getSchemaPath(OrderResponse) }],
    },
  })
  @ErrorResponses(400, 401, 403, 'ORDER_NOT_FOUND')
  async list(@Query() query: FindOrderQuery): Promise<OrderPageResponse | OrderResponse> {
    if (query.merchantOrderNo)
      return OrderResponse.of(await this.orders.getByMerchantOrderNo(query.merchantOrderNo));
    return mapPage(await this.orders.search(query), (o) => OrderResponse.of(o));
  }

  @Get(':id')
  @Access('merchant', 'client')
  @ApiOperation({ summary: "One order, by id (merchant key, or that order's client secret)" })
  @ApiHeader({
    name: 'X-Client-Secret',
    required: false,
    description: "the order's clientSecret, for storefront frontends",
  })
  @ApiOkResponse({ type: OrderResponse })
  @ErrorResponses(401, 403, 'ORDER_NOT_FOUND')
  async get(@Param('id') id: string): Promise<OrderResponse> {
    return OrderResponse.of(await this.orders.get(id));
  }
}
