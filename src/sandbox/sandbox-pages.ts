/** The page shell every sandbox shows a browser: the channel's name and colour, a "no real money" banner. */

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

export interface SandboxBrand {
  /** "Alipay", "WeChat Pay" */
  name: string;
  /** CSS colour of the buttons. */
  colour: string;
}

export function sandboxPage(brand: SandboxBrand, title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · ${brand.name} sandbox</title>
<style>
body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}
.banner{background:#fff3cd;border:1px solid #e0c36b;padding:.5rem .75rem;border-radius:.4rem;font-size:.85rem}
.amount{font-size:2rem;font-weight:600;margin:.5rem 0}
button{font-size:1rem;padding:.6rem 1.4rem;border-radius:.4rem;border:1px solid ${brand.colour};cursor:pointer}
.pay{background:${brand.colour};color:#fff}.cancel{background:#fff;color:${brand.colour}}
form{display:inline-block;margin-right:.5rem}code{word-break:break-all}
</style></head><body>
<p class="banner">paygate sandbox: a simulated ${brand.name}. No real money moves.</p>
${body}
</body></html>`;
}

/** A page that only says something (unknown trade, an error). */
export function sandboxMessagePage(brand: SandboxBrand, title: string, message: string): string {
  return sandboxPage(brand, title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`);
}
