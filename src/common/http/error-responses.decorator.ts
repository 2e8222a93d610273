import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiResponse } from '@nestjs/swagger';

export class ErrorResponse {
  @ApiProperty({ example: 400 })
  statusCode!: number;
  @ApiProperty({ example: 'Bad Request' })
  error!: string;
  @ApiProperty({ example: 'amount must be at least 1 fen' })
  message!: string;
  @ApiProperty({ example: 'VALIDATION_FAILED' })
  code!: string;
  @ApiProperty({ example: 'req_3kTq9ZxV1bN0aP2m', required: false })
  requestId?: string;
}

const DESCRIPTIONS: Record<number, string> = {
  400: 'malformed input; message names the field',
  401: 'no or unknown credentials',
  403: 'valid credentials of the wrong kind',
  404: 'unknown id',
  409: 'conflicts with the current state',
  502: 'the channel answered with an error',
  503: 'the channel could not be reached',
};

/** Documents the error answers of an endpoint, all in the one error shape. */
export const ErrorResponses = (...statuses: number[]): MethodDecorator & ClassDecorator =>
  applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({ status, type: ErrorResponse, description: DESCRIPTIONS[status] }),
    ),
  );
