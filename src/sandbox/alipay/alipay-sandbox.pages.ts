/** The few HTML pages a browser sees in the sandbox: cashier, paid, errors. */
import { fenToYuan } from '../../common/money/money';
import type { AlipayGatewayError } from './alipay-sandbox.errors';
import type { SandboxTrade } from './alipay-sandbox.types';

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
<title>${escapeHtml(title)} · Alipay sandbox</title>
<style>
body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}
.banner{background:#fff3cd;border:1px solid #e0c36b;padding:.5rem .75rem;border-radius:.4rem;font-size:.85rem}
.amount{font-size:2rem;font-weight:600;margin:.5rem 0}
button{font-size:1rem;padding:.6rem 1.4rem;border-radius:.4rem;border:1px solid #1677ff;cursor:pointer}
.pay{background:#1677ff;color:#fff}.cancel{background:#fff;color:#1677ff}
form{display:inline-block;margin-right:.5rem}code{word-break:break-all}
</style></head><body>
<p class="banner">paygate sandbox: a simulated Alipay. No real money moves.</p>
${body}
</body></html>`;
}

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
  return layout(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`);
}

export function gatewayErrorPage(error: AlipayGatewayError): string {
  return layout(
    'error',
    `<h1>${escapeHtml(error.msg)}</h1><p>code <code>${error.code}</code>, sub_code <code>${escapeHtml(error.subCode)}</code></p><p>${escapeHtml(error.subMsg)}</p>`,
  );
}
