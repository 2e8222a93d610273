import {
  ADMIN_KEY,
  MERCHANT_KEY_2,
  TestApp,
  orderInput,
  startApp,
  uniqueNo,
} from './support/test-app';

describe('orders API (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.close();
  });

  const countOrders = async (merchantOrderNo: string): Promise<number> => {
    const rows: { c: number | string }[] = await t.dataSource.query(
      'SELECT COUNT(*) AS c FROM orders WHERE merchant_order_no = ?',
      [merchantOrderNo],
    );
    return Number(rows[0].c);
  };

  describe('create', () => {
    it('creates an order and answers the public shape', async () => {
      const input = orderInput({ metadata: { cart: 'c-1' }, description: 'one mug' });
      const res = await t.http.post('/api/orders').set(t.merchant).send(input).expect(201);
      expect(res.body).toMatchObject({
        merchantOrderNo: input.merchantOrderNo,
        amount: 8880,
        currency: 'CNY',
        subject: 'Blue mug',
        status: 'PENDING',
        paidAmount: 0,
        refundedAmount: 0,
        channel: null,
        channelTradeNo: null,
        paidAt: null,
        metadata: { cart: 'c-1' },
      });
      expect(res.body.id).toMatch(/^ord_[0-9A-Za-z]{24}$/);
      expect(res.body.clientSecret).toMatch(/^cs_/);
      const ttl = Date.parse(res.body.expiresAt) - Date.parse(res.body.createdAt);
      expect(ttl).toBe(900_000);
      expect(res.headers['x-request-id']).toMatch(/^req_/);
    });

    it('stores returnUrl for the checkout page', async () => {
      const returnUrl = 'https://shop.example.com/orders/SO-1001?paid=1';
      const res = await t.http
        .post('/api/orders')
        .set(t.merchant)
        .send(orderInput({ returnUrl }))
        .expect(201);
      const rows: { return_url: string | null }[] = await t.dataSource.query(
        'SELECT return_url FROM orders WHERE id = ?',
        [res.body.id],
      );
      expect(rows[0].return_url).toBe(returnUrl);
    });

    it('honours expireSeconds', async () => {
      const res = await t.http
        .post('/api/orders')
        .set(t.merchant)
        .send(orderInput({ expireSeconds: 120 }))
        .expect(201);
      expect(Date.parse(res.body.expiresAt) - Date.parse(res.body.createdAt)).toBe(120_000);
    });

    it('is idempotent on merchantOrderNo with the same content', async () => {
      const input = orderInput();
      const first = await t.http.post('/api/orders').set(t.merchant).send(input).expect(201);
      const again = await t.http.post('/api/orders').set(t.merchant).send(input).expect(200);
      expect(again.body.id).toBe(first.body.id);
      expect(await countOrders(input.merchantOrderNo as string)).toBe(1);
    });

    it.each([
      ['amount', { amount: 8881 }],
      ['subject', { subject: 'Red mug' }],
    ])('answers 409 when the %s differs', async (_field, change) => {
      const input = orderInput();
      const first = await t.http.post('/api/orders').set(t.merchant).send(input).expect(201);
      const res = await t.http
        .post('/api/orders')
        .set(t.merchant)
        .send({ ...input, ...change })
        .expect(409);
      expect(res.body).toMatchObject({ statusCode: 409, code: 'ORDER_CONFLICT' });
      const stored = await t.http.get(`/api/orders/${first.body.id}`).set(t.merchant).expect(200);
      expect(stored.body.amount).toBe(8880);
      expect(stored.body.subject).toBe('Blue mug');
    });

    it('20 concurrent identical creates make exactly one order', async () => {
      const input = orderInput();
      const results = await Promise.all(
        Array.from({ length: 20 }, () => t.http.post('/api/orders').set(t.merchant).send(input)),
      );
      const statuses = results.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      expect(statuses.filter((s) => s === 200)).toHaveLength(19);
      expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
      expect(await countOrders(input.merchantOrderNo as string)).toBe(1);
    });
  });

  describe('bad input: 400 naming the field, nothing written', () => {
    const cases: Array<[string, string, (no: string) => Record<string, unknown>]> = [
      ['amount as a string', 'amount', (no) => orderInput({ merchantOrderNo: no, amount: '100' })],
      ['negative amount', 'amount', (no) => orderInput({ merchantOrderNo: no, amount: -1 })],
      ['zero amount', 'amount', (no) => orderInput({ merchantOrderNo: no, amount: 0 })],
      ['fractional amount', 'amount', (no) => orderInput({ merchantOrderNo: no, amount: 88.8 })],
      [
        'huge amount',
        'amount',
        (no) => orderInput({ merchantOrderNo: no, amount: 10_000_000_001 }),
      ],
      ['unsafe amount', 'amount', (no) => orderInput({ merchantOrderNo: no, amount: 2 ** 60 })],
      ['missing amount', 'amount', (no) => ({ merchantOrderNo: no, subject: 'x' })],
      ['missing subject', 'subject', (no) => ({ merchantOrderNo: no, amount: 1 })],
      ['subject as a number', 'subject', (no) => orderInput({ merchantOrderNo: no, subject: 5 })],
      ['empty subject', 'subject', (no) => orderInput({ merchantOrderNo: no, subject: '' })],
      [
        'long subject',
        'subject',
        (no) => orderInput({ merchantOrderNo: no, subject: 'x'.repeat(129) }),
      ],
      ['unknown field', 'currency', (no) => orderInput({ merchantOrderNo: no, currency: 'USD' })],
      [
        'notifyUrl not http',
        'notifyUrl',
        (no) => orderInput({ merchantOrderNo: no, notifyUrl: 'ftp://x.example/y' }),
      ],
      [
        'returnUrl a javascript: URL',
        'returnUrl',
        (no) => orderInput({ merchantOrderNo: no, returnUrl: 'javascript:alert(1)' }),
      ],
      [
        'returnUrl not http',
        'returnUrl',
        (no) => orderInput({ merchantOrderNo: no, returnUrl: 'ftp://shop.example.com/done' }),
      ],
      [
        'returnUrl without a scheme',
        'returnUrl',
        (no) => orderInput({ merchantOrderNo: no, returnUrl: '//evil.example/done' }),
      ],
      [
        'returnUrl with a password',
        'returnUrl',
        (no) => orderInput({ merchantOrderNo: no, returnUrl: 'https://u:p@shop.example.com/' }),
      ],
      [
        'returnUrl over 1024 characters',
        'returnUrl',
        (no) =>
          orderInput({
            merchantOrderNo: no,
            returnUrl: `https://shop.example.com/${'x'.repeat(1010)}`,
          }),
      ],
      [
        'metadata an array',
        'metadata',
        (no) => orderInput({ merchantOrderNo: no, metadata: [1, 2] }),
      ],
      [
        'metadata over 4 KB',
        'metadata',
        (no) => orderInput({ merchantOrderNo: no, metadata: { big: 'x'.repeat(4100) } }),
      ],
      [
        'expireSeconds too small',
        'expireSeconds',
        (no) => orderInput({ merchantOrderNo: no, expireSeconds: 10 }),
      ],
      [
        'expireSeconds fractional',
        'expireSeconds',
        (no) => orderInput({ merchantOrderNo: no, expireSeconds: 90.5 }),
      ],
    ];

    it.each(cases)('%s', async (_name, field, build) => {
      const no = uniqueNo('BAD');
      const res = await t.http.post('/api/orders').set(t.merchant).send(build(no)).expect(400);
      expect(res.body).toMatchObject({
        statusCode: 400,
        error: 'Bad Request',
        code: 'VALIDATION_FAILED',
      });
      expect(res.body.message).toContain(field);
      expect(await countOrders(no)).toBe(0);
    });

    it.each([
      ['', 'empty'],
      ['a'.repeat(65), 'too long'],
      ['has space', 'a space'],
      ['订单', 'non-ASCII'],
    ])('merchantOrderNo %p (%s)', async (merchantOrderNo) => {
      const res = await t.http
        .post('/api/orders')
        .set(t.merchant)
        .send(orderInput({ merchantOrderNo }))
        .expect(400);
      expect(res.body.message).toContain('merchantOrderNo');
    });

    it('missing merchantOrderNo', async () => {
      const res = await t.http
        .post('/api/orders')
        .set(t.merchant)
        .send({ amount: 1, subject: 'x' })
        .expect(400);
      expect(res.body.message).toContain('merchantOrderNo');
    });

    it('broken JSON', async () => {
      const res = await t.http
        .post('/api/orders')
        .set(t.merchant)
        .set('Content-Type', 'application/json')
        .send('{"merchantOrderNo": "X", "amount": ')
        .expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, code: 'MALFORMED_BODY' });
      expect(res.body.message).toContain('body');
    });

    it('a JSON array body', async () => {
      const res = await t.http.post('/api/orders').set(t.merchant).send([orderInput()]).expect(400);
      expect(res.body.statusCode).toBe(400);
    });

    it('an oversized body is 413', async () => {
      const no = uniqueNo('BIG');
      const res = await t.http
        .post('/api/orders')
        .set(t.merchant)
        .send(orderInput({ merchantOrderNo: no, description: 'x'.repeat(70 * 1024) }))
        .expect(413);
      expect(res.body).toMatchObject({ statusCode: 413, code: 'PAYLOAD_TOO_LARGE' });
      expect(await countOrders(no)).toBe(0);
    });

    it('GET by merchantOrderNo validates the query', async () => {
      const res = await t.http
        .get('/api/orders')
        .query({ merchantOrderNo: 'bad no!' })
        .set(t.merchant)
        .expect(400);
      expect(res.body.message).toContain('merchantOrderNo');
      for (const query of [
        { status: 'SHIPPED' },
        { createdFrom: 'yesterday' },
        { limit: 0 },
        { cursor: 'bm9wZQ' },
      ])
        await t.http.get('/api/orders').query(query).set(t.merchant).expect(400);
    });
  });

  describe('list', () => {
    it('GET /api/orders pages newest first with {items, nextCursor}, filtered by status and time', async () => {
      const from = new Date().toISOString();
      await new Promise((r) => setTimeout(r, 5)); // nothing created before this counts
      const ids: string[] = [];
      for (let i = 0; i < 3; i++)
        ids.push(
          (await t.http.post('/api/orders').set(t.merchant).send(orderInput()).expect(201)).body.id,
        );
      const first = await t.http
        .get('/api/orders')
        .query({ createdFrom: from, limit: 2 })
        .set(t.merchant)
        .expect(200);
      expect(first.body.items.map((o: { id: string }) => o.id)).toEqual([ids[2], ids[1]]);
      expect(first.body.items[0]).toHaveProperty('clientSecret');
      const second = await t.http
        .get('/api/orders')
        .query({ createdFrom: from, limit: 2, cursor: first.body.nextCursor })
        .set(t.merchant)
        .expect(200);
      expect(second.body.items.map((o: { id: string }) => o.id)).toEqual([ids[0]]);
      expect(second.body.nextCursor).toBeNull();
      const paid = await t.http
        .get('/api/orders')
        .query({ createdFrom: from, status: 'PAID' })
        .set(t.merchant)
        .expect(200);
      expect(paid.body).toEqual({ items: [], nextCursor: null });
      const none = await t.http
        .get('/api/orders')
        .query({ createdTo: from })
        .set(t.merchant)
        .expect(200);
      expect(none.body.items.map((o: { id: string }) => o.id)).not.toContain(ids[0]);
      // The admin search answers in the same shape.
      const admin = await t.http
        .get('/admin/orders')
        .query({ createdFrom: from, limit: 2 })
        .set(t.admin)
        .expect(200);
      expect(admin.body.items.map((o: { id: string }) => o.id)).toEqual([ids[2], ids[1]]);
      expect(admin.body.nextCursor).toEqual(expect.any(String));
    });
  });

  describe('read', () => {
    it('by id and by merchantOrderNo; unknown ones are 404', async () => {
      const input = orderInput();
      const created = await t.http.post('/api/orders').set(t.merchant).send(input).expect(201);
      const byId = await t.http.get(`/api/orders/${created.body.id}`).set(t.merchant).expect(200);
      expect(byId.body).toEqual(created.body);
      const byNo = await t.http
        .get('/api/orders')
        .query({ merchantOrderNo: input.merchantOrderNo })
        .set(t.merchant)
        .expect(200);
      expect(byNo.body.id).toBe(created.body.id);
      const missing = await t.http.get('/api/orders/ord_doesnotexist').set(t.merchant).expect(404);
      expect(missing.body).toMatchObject({ statusCode: 404, code: 'ORDER_NOT_FOUND' });
      await t.http
        .get('/api/orders')
        .query({ merchantOrderNo: uniqueNo('NONE') })
        .set(t.merchant)
        .expect(404);
    });
  });

  describe('credentials', () => {
    let order: { id: string; clientSecret: string };
    let other: { id: string; clientSecret: string };
    beforeAll(async () => {
      order = (await t.http.post('/api/orders').set(t.merchant).send(orderInput()).expect(201))
        .body;
      other = (await t.http.post('/api/orders').set(t.merchant).send(orderInput()).expect(201))
        .body;
    });

    it('401 without credentials or with an unknown key, nothing written', async () => {
      const no = uniqueNo('AUTH');
      await t.http
        .post('/api/orders')
        .send(orderInput({ merchantOrderNo: no }))
        .expect(401);
      const res = await t.http
        .post('/api/orders')
        .set('Authorization', 'Bearer mk_not_a_real_key_0000000')
        .send(orderInput({ merchantOrderNo: no }))
        .expect(401);
      expect(res.body).toMatchObject({ statusCode: 401, code: 'UNAUTHENTICATED' });
      await t.http.get(`/api/orders/${order.id}`).set('Authorization', 'Basic abc').expect(401);
      expect(await countOrders(no)).toBe(0);
    });

    it('accepts every key of a rotation list', async () => {
      await t.http
        .get(`/api/orders/${order.id}`)
        .set('Authorization', `Bearer ${MERCHANT_KEY_2}`)
        .expect(200);
    });

    it('403 for the admin key on the merchant API', async () => {
      const res = await t.http
        .get(`/api/orders/${order.id}`)
        .set('Authorization', `Bearer ${ADMIN_KEY}`)
        .expect(403);
      expect(res.body.code).toBe('FORBIDDEN');
    });

    it('a client secret reads its own order, and nothing else', async () => {
      const own = await t.http
        .get(`/api/orders/${order.id}`)
        .set('X-Client-Secret', order.clientSecret)
        .expect(200);
      expect(own.body.id).toBe(order.id);
      await t.http
        .get(`/api/orders/${other.id}`)
        .set('X-Client-Secret', order.clientSecret)
        .expect(403);
      await t.http
        .post('/api/orders')
        .set('X-Client-Secret', order.clientSecret)
        .send(orderInput())
        .expect(403);
      await t.http
        .post(`/api/orders/${order.id}/close`)
        .set('X-Client-Secret', order.clientSecret)
        .expect(403);
      await t.http
        .get(`/api/orders/${order.id}`)
        .set('X-Client-Secret', 'cs_unknownunknownunknown00')
        .expect(401);
      const stillPending = await t.http.get(`/api/orders/${order.id}`).set(t.merchant).expect(200);
      expect(stillPending.body.status).toBe('PENDING');
    });
  });

  describe('close', () => {
    it('closes a pending order once and records one order.closed event', async () => {
      const created = await t.http
        .post('/api/orders')
        .set(t.merchant)
        .send(orderInput())
        .expect(201);
      const closed = await t.http
        .post(`/api/orders/${created.body.id}/close`)
        .set(t.merchant)
        .expect(200);
      expect(closed.body.status).toBe('CLOSED');
      const again = await t.http
        .post(`/api/orders/${created.body.id}/close`)
        .set(t.merchant)
        .expect(200);
      expect(again.body.status).toBe('CLOSED');
      const events: { type: string; payload: string }[] = await t.dataSource.query(
        'SELECT type, payload FROM webhook_events WHERE order_id = ?',
        [created.body.id],
      );
      expect(events.map((e) => e.type)).toEqual(['order.closed']);
      const payload = JSON.parse(events[0].payload);
      expect(payload.data).toMatchObject({ id: created.body.id, status: 'CLOSED' });
      expect(payload.data.clientSecret).toBeUndefined();
    });

    it('404 for an unknown order', async () => {
      await t.http.post('/api/orders/ord_nope/close').set(t.merchant).expect(404);
    });
  });

  describe('operations', () => {
    it('GET /health answers ok', async () => {
      const res = await t.http.get('/health').expect(200);
      expect(res.body).toMatchObject({ status: 'ok', database: 'up' });
    });

    it('serves Swagger UI and the OpenAPI document with both bearer schemes', async () => {
      await t.http.get('/docs').expect(200);
      const doc = await t.http.get('/docs-json').expect(200);
      expect(Object.keys(doc.body.paths)).toEqual(
        expect.arrayContaining(['/api/orders', '/api/orders/{id}']),
      );
      expect(doc.body.components.securitySchemes).toMatchObject({
        merchant: { type: 'http', scheme: 'bearer' },
        admin: { type: 'http', scheme: 'bearer' },
      });
      expect(JSON.stringify(doc.body)).not.toContain(ADMIN_KEY);
    });

    it('GET /metrics exposes request durations by route and status', async () => {
      await t.http.get('/health').expect(200);
      const res = await t.http.get('/metrics').expect(200);
      expect(res.text).toMatch(
        /paygate_http_request_duration_seconds_count\{method="GET",route="\/health",status="200"\} \d+/,
      );
      expect(res.text).toContain('paygate_process_cpu_seconds_total');
    });
  });
});

describe('health when the database is gone (e2e)', () => {
  it('answers 503', async () => {
    const t = await startApp();
    try {
      await t.dataSource.destroy();
      const res = await t.http.get('/health').expect(503);
      expect(res.body).toMatchObject({ status: 'error', database: 'down' });
    } finally {
      await t.close().catch(() => undefined);
    }
  });
});
