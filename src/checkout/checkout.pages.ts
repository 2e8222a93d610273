/**
 * The checkout page's HTML, as plain functions of what the service decided. Every
 * value from outside (subject, URLs, channel parameters) goes through escapeHtml;
 * nothing here writes inline script or style, so the page runs under a CSP that
 * allows only the nonce'd same-origin script and stylesheet.
 */
import { escapeHtml } from '../common/http/html';
import { fenToYuan } from '../common/money/money';
import type { Channel } from '../payments/payment-provider';
import type { Messages } from './checkout-language';
import { httpUrlOrNull, type CheckoutView, type ShownOption } from './checkout.service';

export interface PageContext {
  messages: Messages;
  /** The CSP nonce of this answer; message pages run no script. */
  nonce: string;
  /** Asset URLs, with their version. */
  assets: { css: string; js: string };
}

type OrderView = Extract<CheckoutView, { kind: 'order' }>;

const yuan = (fen: number): string => `¥${fenToYuan(fen)}`;

function layout(ctx: PageContext, title: string, body: string, script: boolean): string {
  const m = ctx.messages;
  return `<!doctype html>
<html lang="${m.htmlLang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="color-scheme" content="light">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${escapeHtml(ctx.assets.css)}">
</head>
<body>
${body}
${script ? `<script src="${escapeHtml(ctx.assets.js)}" nonce="${escapeHtml(ctx.nonce)}" defer></script>\n` : ''}</body>
</html>
`;
}

/** A page that only says something: unknown order, expired, closed, too many requests. */
export function messagePage(ctx: PageContext, title: string, text: string): string {
  return layout(
    ctx,
    title,
    `<main class="card message">
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(text)}</p>
</main>`,
    false,
  );
}

export function checkoutPage(ctx: PageContext, view: OrderView): string {
  const m = ctx.messages;
  const { order } = view;
  const pending = view.state === 'pending';
  const sandbox = view.options.some((o) => o.sandbox);
  const body = `<main class="card" id="checkout" data-state="${view.state}" data-status-url="/checkout/${encodeURIComponent(order.id)}/status">
${sandbox ? `<p class="sandbox" role="note">${escapeHtml(m.sandbox)}</p>\n` : ''}<header class="order">
<p class="eyebrow">${escapeHtml(m.pageTitle)}</p>
<h1>${escapeHtml(order.subject)}</h1>
<p class="amount"><span class="amount-label">${escapeHtml(m.amountDue)}</span> <strong>${yuan(order.amount)}</strong></p>
</header>
<section id="pay" aria-labelledby="pay-heading"${pending ? '' : ' hidden'}>
<h2 id="pay-heading">${escapeHtml(m.choose)}</h2>
${pending ? payOptions(m, view) : ''}
<p class="deadline">${escapeHtml(m.payWithin)} <time id="countdown" data-seconds="${order.secondsLeft}">${countdown(order.secondsLeft)}</time></p>
<p class="waiting" id="waiting">${escapeHtml(m.waiting)}</p>
<noscript><p class="hint">${escapeHtml(m.noScript)}</p></noscript>
</section>
${outcome('paid', m.paidTitle, m.paidBody, !pending, returnLink(m, order.returnUrl))}
${outcome('expired', m.expiredTitle, m.expiredBody, false)}
${outcome('closed', m.closedTitle, m.closedBody, false)}
<p class="visually-hidden" id="announce" role="status" aria-live="polite"></p>
</main>`;
  return layout(ctx, `${m.pageTitle} · ${yuan(order.amount)}`, body, true);
}

function outcome(
  state: 'paid' | 'expired' | 'closed',
  title: string,
  text: string,
  visible: boolean,
  extra = '',
): string {
  return `<section class="outcome outcome-${state}" id="state-${state}" aria-labelledby="state-${state}-heading" tabindex="-1"${visible ? '' : ' hidden'}>
<h2 id="state-${state}-heading">${escapeHtml(title)}</h2>
<p>${escapeHtml(text)}</p>
${extra}</section>`;
}

function returnLink(m: Messages, returnUrl: string | null): string {
  if (!returnUrl) return '';
  return `<p class="returning">${escapeHtml(m.returning)}</p>
<p><a class="btn btn-neutral" id="return-link" href="${escapeHtml(returnUrl)}">${escapeHtml(m.backToShop)}</a></p>
`;
}

function payOptions(m: Messages, view: OrderView): string {
  const qr = view.options.filter((o) => o.method === 'qr');
  const buttons = view.options.filter((o) => o.method !== 'qr');
  const parts: string[] = [];
  if (qr.length > 1) parts.push(tabList(m, qr));
  for (const option of qr) parts.push(qrPanel(m, option, view));
  if (buttons.length > 0)
    parts.push(`<ul class="buttons">\n${buttons.map((o) => button(m, o)).join('\n')}\n</ul>`);
  if (view.openInBrowserHint)
    parts.push(`<p class="hint" role="note">${escapeHtml(m.openInBrowser)}</p>`);
  return parts.join('\n');
}

const channelName = (m: Messages, channel: Channel): string =>
  channel === 'alipay' ? m.alipay : m.wechat;

/** Hidden until the script runs: without it every QR code shows, one under the other. */
function tabList(m: Messages, options: ShownOption[]): string {
  const tabs = options.map(
    (o, i) =>
      `<button type="button" role="tab" class="tab tab-${o.channel}" id="tab-${o.channel}" aria-controls="panel-${o.channel}" aria-selected="${i === 0}"${i === 0 ? '' : ' tabindex="-1"'}>${escapeHtml(channelName(m, o.channel))}</button>`,
  );
  return `<div class="tabs" role="tablist" aria-label="${escapeHtml(m.choose)}" hidden>\n${tabs.join('\n')}\n</div>`;
}

function qrPanel(m: Messages, option: ShownOption, view: OrderView): string {
  const name = channelName(m, option.channel);
  const id = option.channel;
  let content: string;
  if (option.action?.type === 'qr' && option.qrSvg) {
    const caption = option.channel === 'alipay' ? m.scanAlipay : m.scanWechat;
    // Inside WeChat the code is on the phone that would scan it.
    const inApp =
      view.browser === 'wechat' ? `\n<p class="hint">${escapeHtml(m.scanWechatInApp)}</p>` : '';
    content = `<figure class="qr">
<div class="qr-code" role="img" aria-label="${escapeHtml(m.qrLabel(name, yuan(view.order.amount)))}">${option.qrSvg}</div>
<figcaption>${escapeHtml(caption)}</figcaption>
</figure>${inApp}${sandboxLink(m, option, option.action.qrCode)}`;
  } else {
    content = `<p class="unavailable">${escapeHtml(m.unavailable)}</p>`;
  }
  return `<section class="panel panel-${id}" id="panel-${id}" aria-labelledby="title-${id}">
<h3 class="panel-title" id="title-${id}">${escapeHtml(name)}</h3>
${content}
</section>`;
}

/**
 * In the sandbox a QR code leads to the sandbox's cashier page on this very
 * paygate: a link to it lets a person without a phone at hand pay too.
 */
function sandboxLink(m: Messages, option: ShownOption, qrCode: string): string {
  const url = option.sandbox ? httpUrlOrNull(qrCode) : null;
  if (!url) return '';
  return `\n<p class="sandbox-link"><a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer" data-sandbox-cashier="${option.channel}">${escapeHtml(m.sandboxCashier)}</a></p>`;
}

function button(m: Messages, option: ShownOption): string {
  const label = option.channel === 'alipay' ? m.payAlipay : m.payWechat;
  const cls = `btn btn-${option.channel}`;
  const action = option.action;
  if (action?.type === 'redirect') {
    return `<li><a class="${cls}" id="pay-${option.channel}-${option.method}" href="${escapeHtml(action.url)}">${escapeHtml(label)}</a></li>`;
  }
  if (action?.type === 'jsapi') {
    return `<li><button type="button" class="${cls}" id="pay-wechat-jsapi" data-params="${escapeHtml(JSON.stringify(action.params))}" data-cancelled="${escapeHtml(m.jsapiCancelled)}" data-failed="${escapeHtml(m.jsapiFailed)}">${escapeHtml(label)}</button>
<p class="note" id="jsapi-note" role="status"></p></li>`;
  }
  return `<li><p class="unavailable"><strong>${escapeHtml(channelName(m, option.channel))}</strong>: ${escapeHtml(m.unavailable)}</p></li>`;
}

/** Seconds as M:SS, or H:MM:SS from an hour on (the script keeps it running). */
export function countdown(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${rest}` : `${minutes}:${rest}`;
}
