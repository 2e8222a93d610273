// The README's "Receiving webhooks" snippet, verbatim between the markers, so
// that test/webhooks.e2e-spec.ts runs exactly what the README tells merchants
// to run. Change the two together.
// --- README snippet starts ---
const crypto = require('node:crypto');
const express = require('express');

// True when Paygate-Signature matches the raw body under your WEBHOOK_SECRET and is recent.
function verifyPaygateSignature(header, rawBody, secret, toleranceSeconds = 300) {
  const pairs = String(header ?? '')
    .split(',')
    .map((part) => part.trim().split('='));
  const t = pairs.find(([key]) => key === 't')?.[1] ?? '';
  if (!/^\d+$/.test(t) || Math.abs(Date.now() / 1000 - Number(t)) > toleranceSeconds) return false;
  const expected = crypto.createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest();
  return pairs.some(
    ([key, v1]) =>
      key === 'v1' &&
      /^[0-9a-f]{64}$/.test(v1) &&
      crypto.timingSafeEqual(Buffer.from(v1, 'hex'), expected),
  );
}

// Mount before any express.json(): the signature covers the raw bytes.
// handle(event) must ignore an event.id it has already processed (see below).
function paygateWebhooks(secret, handle) {
  const router = express.Router();
  router.post('/paygate/webhooks', express.raw({ type: 'application/json' }), async (req, res) => {
    const signature = req.get('Paygate-Signature');
    if (!Buffer.isBuffer(req.body) || !verifyPaygateSignature(signature, req.body, secret)) {
      return res.status(400).send('bad signature');
    }
    await handle(JSON.parse(req.body)); // throws → 500 → paygate retries later
    res.sendStatus(204);
  });
  return router;
}
// --- README snippet ends ---

module.exports = { verifyPaygateSignature, paygateWebhooks };
