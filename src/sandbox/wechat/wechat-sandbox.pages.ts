/** The few HTML pages a browser sees in the WeChat Pay sandbox: cashier, paid, errors. */
import { fenToYuan } from '../../common/money/money';
import { escapeHtml, sandboxMessagePage, sandboxPage } from '../sandbox-pages';
import { tradeState, type SandboxTrade } from './wechat-sandbox.types';

const BRAND = { name: 'WeChat Pay', colour: '#07c160' };

const layout = (title: string, body: string): string => sandboxPage(BRAND, title, body);

/** `redirectUrl`: where an H5 payment returns (the merchant's `&redirect_url=` on h5_url). */
export function cashierPage(trade: SandboxTrade, redirectUrl?: string): string {
  const path = `/sandbox/wechat/cashier/${encodeURIComponent(trade.outTradeNo)}`;
  const query = redirectUrl ? `?redirect_url=${encodeURIComponent(redirectUrl)}` : '';
  const facts = `<h1>${escapeHtml(trade.description)}</h1>
<p class="amount">¥${fenToYuan(trade.totalFen)}</p>
<p>out_trade_no <code>${escapeHtml(trade.outTradeNo)}</code>${
    trade.transactionId ? `<br>transaction_id <code>${trade.transactionId}</code>` : ''
  }</p>`;
  if (trade.status !== 'NOTPAY') {
    return layout(
      trade.description,
      `${facts}<p>This trade is <strong>${tradeState(trade)}</strong>.</p>`,
    );
  }
  return layout(
    trade.description,
    `${facts}
<form method="post" action="${path}/pay${escapeHtml(query)}"><button class="pay" type="submit">Pay</button></form>
<form method="post" action="${path}/cancel${escapeHtml(query)}"><button class="cancel" type="submit">Cancel</button></form>`,
  );
}

export function paidPage(trade: SandboxTrade): string {
  return layout(
    'paid',
    `<h1>paid</h1><p>¥${fenToYuan(trade.totalFen)} for ${escapeHtml(trade.description)} (transaction_id <code>${trade.transactionId}</code>).</p>`,
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
