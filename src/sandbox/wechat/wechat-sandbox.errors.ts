/**
 * An answer the simulated gateway gives instead of a success: an HTTP status
 * with WeChat's `{"code","message","detail"}` body (protocols.md C1). Codes and
 * statuses follow the per-API error tables of the v3 merchant docs (PARAM_ERROR
 * 400, SIGN_ERROR 401, OUT_TRADE_NO_USED 403, ORDER_NOT_EXIST 404, …).
 */
export class WechatApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly detail?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'WechatApiError';
  }

  /** 401: WeChat answers these before it knows who is asking, unsigned. */
  static sign(message: string, detail?: Record<string, unknown>): WechatApiError {
    return new WechatApiError(401, 'SIGN_ERROR', message, detail);
  }

  /**
   * 400 PARAM_ERROR naming the field as WeChat does: a JSON pointer for the body
   * (`/amount/total`), the parameter's name for the URL and query.
   */
  static param(
    field: string,
    issue: string,
    location: 'body' | 'query' | 'url' = 'body',
  ): WechatApiError {
    return new WechatApiError(400, 'PARAM_ERROR', `参数错误 (${field}: ${issue})`, {
      field,
      issue,
      location,
    });
  }

  static invalidRequest(message: string): WechatApiError {
    return new WechatApiError(400, 'INVALID_REQUEST', message);
  }

  static orderNotExist(): WechatApiError {
    return new WechatApiError(
      404,
      'ORDER_NOT_EXIST',
      '订单不存在 (no order with that out_trade_no)',
    );
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.detail ? { detail: this.detail } : {}),
    };
  }
}

/** Control API: the trade is unknown (404). */
export class SandboxTradeNotFoundError extends Error {
  constructor(outTradeNo: string) {
    super(`no sandbox trade with out_trade_no ${JSON.stringify(outTradeNo)}`);
    this.name = 'SandboxTradeNotFoundError';
  }
}

/** Control API: the trade's state does not allow the action (409). */
export class SandboxTradeStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SandboxTradeStateError';
  }
}
