/** The few HTML pages a browser sees in the sandbox: cashier, paid, errors. */
import { fenToYuan } from '../../common/money/money';
import { escapeHtml, sandboxMessagePage, sandboxPage } from '../sandbox-pages';
import type { AlipayGatewayError } from './alipay-sandbox.errors';
import type { SandboxTrade } from './alipay-sandbox.types';

const BRAND = { name: 'Alipay', colour: '#1677ff' };

const layout = (title: string, body: string): string => sandboxPage(BRAND, title, body);

export function cashierPage(trade: SandboxTrade): string {
  const path = `/sandbox/alipay/cashier/${encodeURIComponent(trade.outTradeNo)}`;
  const facts = `<h1>${escapeHtml(trade.subject)}</h1>
<p class="amount">¥${fenToYuan(trade.totalFen)}</p>
<p>out_trade_no <code>${escapeHtml(trade.outTradeNo)}</code><br>trade_no <code>${trade.tradeNo}</code></p>`;
  if (trade.status !== 'WAIT_BUYER_PAY') {
    return layout(trade.subject, `${facts}<p>This trade is <strong>${trade.status}</strong>.</p>`);
  }
  return layout(
    trade.subject,
    `${facts}
<form method="post" action="${path}/pay"><button class="pay" type="submit">Pay</button></form>
<form method="post" action="${path}/cancel"><button class="cancel" type="submit">Cancel</button></form>`,
  );
}

export function paidPage(trade: SandboxTrade): string {
  return layout(
    'paid',
    `<h1>paid</h1><p>¥${fenToYuan(trade.totalFen)} for ${escapeHtml(trade.subject)} (trade_no <code>${trade.tradeNo}</code>).</p>`,
  );
}

export function cancelledPage(trade: SandboxTrade): string {
  return layout(
    'cancelled',
    `<h1>cancelled</h1><p>Nothing was paid; the trade stays ${trade.status} until it expires or is closed.</p>`,
  );
}

export function messagePage(title: string, message: string): string {
  return sandboxMessagePage(BRAND, title, message);
}

export function gatewayErrorPage(error: AlipayGatewayError): string {
  return layout(
    'error',
    `<h1>${escapeHtml(error.msg)}</h1><p>code <code>${error.code}</code>, sub_code <code>${escapeHtml(error.subCode)}</code></p><p>${escapeHtml(error.subMsg)}</p>`,
  );
}
