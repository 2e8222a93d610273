import { Body, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOkResponse, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Access } from '../auth/access.decorator';
import { ErrorResponses } from '../common/http/error-responses.decorator';
import { CreateOrderDto } from './dto/create-order.dto';
import { FindOrderQuery } from './dto/find-order.query';
import { OrderResponse } from './dto/order.response';
import { OrdersService } from './orders.service';

@ApiTags('orders')
@ApiBearerAuth('merchant')
@Controller('api/orders')
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Post()
  @Access('merchant')
  @ApiResponse({ status: 201, type: OrderResponse, description: 'created' })
  @ApiResponse({
    status: 200,
    type: OrderResponse,
    description: 'same merchantOrderNo, amount and subject: the existing order',
  })
  @ErrorResponses(400, 401, 403, 409)
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
  @ApiOkResponse({ type: OrderResponse })
  @ErrorResponses(400, 401, 403, 404)
  async findByMerchantOrderNo(@Query() query: FindOrderQuery): Promise<OrderResponse> {
    return OrderResponse.of(await this.orders.getByMerchantOrderNo(query.merchantOrderNo));
  }

  @Get(':id')
  @Access('merchant', 'client')
  @ApiHeader({
    name: 'X-Client-Secret',
    required: false,
    description: "the order's clientSecret, for storefront frontends",
  })
  @ApiOkResponse({ type: OrderResponse })
  @ErrorResponses(401, 403, 404)
  async get(@Param('id') id: string): Promise<OrderResponse> {
    return OrderResponse.of(await this.orders.get(id));
  }
}
