/**
 * An answer the simulated gateway gives instead of a success: Alipay's public
 * code (40001, 40002, 40004) with its sub_code, e.g. 40004 ACQ.TRADE_NOT_EXIST.
 */
export class AlipayGatewayError extends Error {
  constructor(
    readonly code: '40001' | '40002' | '40004' | '20000',
    readonly subCode: string,
    readonly subMsg: string,
  ) {
    super(`${code} ${subCode}: ${subMsg}`);
    this.name = 'AlipayGatewayError';
  }

  get msg(): string {
    return GATEWAY_MSG[this.code];
  }

  static business(subCode: string, subMsg: string): AlipayGatewayError {
    return new AlipayGatewayError('40004', subCode, subMsg);
  }

  static invalidParameter(subMsg: string): AlipayGatewayError {
    return new AlipayGatewayError('40004', 'ACQ.INVALID_PARAMETER', `参数无效 (${subMsg})`);
  }

  static tradeNotExist(): AlipayGatewayError {
    return AlipayGatewayError.business('ACQ.TRADE_NOT_EXIST', '交易不存在 (trade does not exist)');
  }
}

const GATEWAY_MSG = {
  '20000': 'Service Currently Unavailable',
  '40001': 'Missing Required Arguments',
  '40002': 'Invalid Arguments',
  '40004': 'Business Failed',
} as const;

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
