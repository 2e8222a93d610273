/** The few HTML pages a browser sees in the WeChat Pay sandbox: cashier, paid, errors. */
import { fenToYuan } from '../../common/money/money';
import { tradeState, type SandboxTrade } from './wechat-sandbox.types';

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · WeChat Pay sandbox</title>
<style>
body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}
.banner{background:#fff3cd;border:1px solid #e0c36b;padding:.5rem .75rem;border-radius:.4rem;font-size:.85rem}
.amount{font-size:2rem;font-weight:600;margin:.5rem 0}
button{font-size:1rem;padding:.6rem 1.4rem;border-radius:.4rem;border:1px solid #07c160;cursor:pointer}
.pay{background:#07c160;color:#fff}.cancel{background:#fff;color:#07c160}
form{display:inline-block;margin-right:.5rem}code{word-break:break-all}
</style></head><body>
<p class="banner">paygate sandbox: a simulated WeChat Pay. No real money moves.</p>
${body}
</body></html>`;
}

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
  return layout(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`);
}
