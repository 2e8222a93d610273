import { ERROR_STATUS, ErrorCode } from '../src/common/errors/domain-error';
import { eventually, orderStatus } from './support/alipay-sandbox';
import { TestApp, startApp } from './support/test-app';

/** The OpenAPI document, read loosely. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head'];
const MERCHANT_TAGS = ['orders', 'payments', 'refunds'];

/**
 * What Swagger UI's "Try it out" does out of the box, checked against the
 * running service: the documented defaults must be requests that succeed on a
 * fresh instance (a fresh SQLite database, whatever DB_TYPE the suite runs on:
 * the examples are fixed numbers such as SO-1001, which a shared database may
 * already hold from an earlier run).
 */
describe('API documentation (e2e)', () => {
  let t: TestApp;
  let doc: Json;

  beforeAll(async () => {
    t = await startApp({ DB_TYPE: 'sqlite' });
    doc = (await t.http.get('/docs-json').expect(200)).body;
  });
  afterAll(async () => {
    await t.close();
  });

  const deref = (node: Json | undefined): Json => {
    let n = node ?? {};
    while (typeof n.$ref === 'string') {
      n = (n.$ref as string)
        .replace(/^#\//, '')
        .split('/')
        .reduce((at: Json, key) => at?.[key], doc);
    }
    return n;
  };

  const operations = (): { method: string; path: string; op: Json }[] =>
    Object.entries(doc.paths as Json).flatMap(([path, item]) =>
      METHODS.filter((m) => item[m]).map((method) => ({ method, path, op: item[method] as Json })),
    );

  const operation = (method: string, path: string): Json => {
    const op = doc.paths[path]?.[method];
    if (!op) throw new Error(`${method.toUpperCase()} ${path} is not documented`);
    return op;
  };

  /** Swagger UI's sample of a schema: its example, else its default, else one made up by type. */
  const sample = (node: Json | undefined): unknown => {
    const schema = deref(node);
    if (schema.example !== undefined) return schema.example;
    if (schema.default !== undefined) return schema.default;
    if (Array.isArray(schema.enum)) return schema.enum[0];
    if (schema.type === 'object' || schema.properties) {
      return Object.fromEntries(
        Object.entries((schema.properties ?? {}) as Json).map(([k, p]) => [k, sample(p)]),
      );
    }
    switch (schema.type) {
      case 'array':
        return [sample(schema.items)];
      case 'integer':
      case 'number':
        return typeof schema.minimum === 'number' ? schema.minimum : 0;
      case 'boolean':
        return true;
      default:
        return 'string';
    }
  };

  /** The JSON body's examples, in the order Swagger UI offers them; one made from the schema when none. */
  const bodyExamples = (op: Json): Json[] => {
    const media = op.requestBody?.content?.['application/json'];
    if (!media) throw new Error('no JSON request body');
    if (media.examples) return Object.values(media.examples as Json).map((e) => deref(e).value);
    if (media.example !== undefined) return [media.example];
    return [sample(media.schema) as Json];
  };

  /** The body "Try it out" starts with: the first example. */
  const defaultBody = (method: string, path: string): Json =>
    bodyExamples(operation(method, path))[0];

  /** The query "Try it out" sends untouched: every parameter's example or default. */
  const defaultQuery = (op: Json): Record<string, string> => {
    const query: Record<string, string> = {};
    for (const p of (op.parameters ?? []) as Json[]) {
      if (p.in !== 'query') continue;
      const value =
        p.example ?? deref(p.schema).example ?? deref(p.schema).default ?? p.default ?? undefined;
      if (value !== undefined) query[p.name] = String(value);
    }
    return query;
  };

  /** The credentials an operation documents, as the Authorize dialog would send them. */
  const credentials = (op: Json): Record<string, string> => {
    const schemes = ((op.security ?? []) as Json[]).flatMap((s) => Object.keys(s));
    if (schemes.includes('admin')) return t.admin;
    if (schemes.includes('merchant')) return t.merchant;
    return {};
  };

  /** Every example a response documents for application/json. */
  const responseExamples = (response: Json): Json[] => {
    const media = deref(response).content?.['application/json'];
    if (!media) return [];
    const examples = media.examples
      ? Object.values(media.examples as Json).map((e) => deref(e).value)
      : [];
    return media.example !== undefined ? [media.example, ...examples] : examples;
  };

  const isErrorResponse = (response: Json): boolean =>
    deref(response).content?.['application/json']?.schema?.$ref ===
    '#/components/schemas/ErrorResponse';

  describe('the document', () => {
    it('pre-fills no query parameter from an example', () => {
      const offending = operations().flatMap(({ method, path, op }) =>
        ((op.parameters ?? []) as Json[])
          .filter((p) => p.in === 'query')
          .filter(
            (p) =>
              p.example !== undefined ||
              p.examples !== undefined ||
              deref(p.schema).example !== undefined ||
              deref(p.schema).examples !== undefined,
          )
          .map((p) => `${method.toUpperCase()} ${path} ?${p.name}`),
      );
      expect(offending).toEqual([]);
    });

    it('gives defaults only to paging parameters, so filters start empty', () => {
      const offending = operations().flatMap(({ method, path, op }) =>
        ((op.parameters ?? []) as Json[])
          .filter((p) => p.in === 'query' && !['limit', 'offset'].includes(p.name))
          .filter((p) => deref(p.schema).default !== undefined || p.default !== undefined)
          .map((p) => `${method.toUpperCase()} ${path} ?${p.name}`),
      );
      expect(offending).toEqual([]);
    });

    it('documents the query parameters of the list endpoints', () => {
      const names = (method: string, path: string) =>
        ((operation(method, path).parameters ?? []) as Json[])
          .filter((p) => p.in === 'query')
          .map((p) => p.name as string)
          .sort();
      expect(names('get', '/admin/webhooks/deliveries')).toEqual(
        ['cursor', 'eventId', 'limit', 'orderId', 'status'].sort(),
      );
      expect(names('get', '/admin/orders')).toEqual(
        ['createdFrom', 'createdTo', 'cursor', 'limit', 'merchantOrderNo', 'status'].sort(),
      );
      expect(names('get', '/api/orders')).toEqual(
        ['createdFrom', 'createdTo', 'cursor', 'limit', 'merchantOrderNo', 'status'].sort(),
      );
    });

    it('gives every operation a summary', () => {
      const missing = operations()
        .filter(({ op }) => typeof op.summary !== 'string' || op.summary.trim() === '')
        .map(({ method, path }) => `${method.toUpperCase()} ${path}`);
      expect(missing).toEqual([]);
    });

    it('does not call the API keys JWTs', () => {
      const schemes = doc.components.securitySchemes as Json;
      expect(schemes.merchant).toMatchObject({ type: 'http', scheme: 'bearer' });
      expect(schemes.admin).toMatchObject({ type: 'http', scheme: 'bearer' });
      for (const scheme of Object.values(schemes)) {
        expect(String(scheme.bearerFormat ?? '')).not.toMatch(/jwt/i);
      }
    });

    it('documents GET /metrics as Prometheus text, and GET /health', () => {
      const metrics = operation('get', '/metrics');
      expect(metrics.summary).toMatch(/metrics/i);
      expect(Object.keys(metrics.responses['200'].content ?? {})).toEqual(['text/plain']);
      expect(operation('get', '/health').summary).toBeTruthy();
    });

    it('lists the merchant API first, and every tag used', () => {
      const tags = (doc.tags as Json[]).map((tag) => tag.name as string);
      expect(tags[0]).toBe('orders');
      expect(tags.slice(0, 3)).toEqual(MERCHANT_TAGS);
      expect(tags.indexOf('admin')).toBeLessThan(tags.indexOf('webhooks'));
      expect(tags.indexOf('webhooks')).toBeLessThan(tags.indexOf('operations'));
      expect(tags[tags.length - 1]).toBe('sandbox');
      for (const tag of doc.tags as Json[]) expect(tag.description).toBeTruthy();
      const used = new Set(operations().flatMap(({ op }) => (op.tags ?? []) as string[]));
      expect([...used].filter((tag) => !tags.includes(tag))).toEqual([]);
      expect(operation('post', '/api/orders').tags).toEqual(['orders']);
      expect(operation('post', '/api/orders/{id}/payments').tags).toEqual(['payments']);
      expect(operation('post', '/api/orders/{id}/refunds').tags).toEqual(['refunds']);
    });

    it("shows each error status's own body", () => {
      const refunds = operation('post', '/api/orders/{id}/refunds');
      for (const status of [401, 403, 404, 409]) {
        const examples = responseExamples(refunds.responses[String(status)]);
        expect(examples.length).toBeGreaterThan(0);
        for (const example of examples) expect(example.statusCode).toBe(status);
      }
      const codes = (op: Json, status: number) =>
        responseExamples(op.responses[String(status)]).map((e) => e.code);
      expect(codes(refunds, 401)).toEqual(['UNAUTHENTICATED']);
      expect(codes(refunds, 403)).toEqual(['FORBIDDEN']);
      expect(codes(refunds, 404)).toEqual(['ORDER_NOT_FOUND']);
      expect(codes(refunds, 409)).toEqual(
        expect.arrayContaining(['REFUND_EXCEEDS_PAID', 'REFUND_CONFLICT', 'ORDER_NOT_REFUNDABLE']),
      );
      expect(codes(operation('post', '/api/orders'), 409)).toEqual(['ORDER_CONFLICT']);
      expect(codes(operation('post', '/api/orders/{id}/payments'), 409)).toEqual([
        'ORDER_NOT_PAYABLE',
      ]);
      expect(codes(operation('get', '/api/refunds/{id}'), 404)).toEqual(['REFUND_NOT_FOUND']);
      // The database away: a 503 with Retry-After, on the merchant API as on the channel calls.
      expect(codes(operation('post', '/api/orders'), 503)).toEqual(['SERVICE_UNAVAILABLE']);
      expect(codes(operation('post', '/api/orders/{id}/payments'), 503)).toEqual([
        'CHANNEL_UNAVAILABLE',
        'SERVICE_UNAVAILABLE',
      ]);
      expect(operation('post', '/api/orders').responses['503'].headers).toHaveProperty(
        'Retry-After',
      );

      // Everywhere: an error answer's examples are bodies of that status, with a code of that status.
      const wrong = operations().flatMap(({ method, path, op }) =>
        Object.entries(op.responses as Json)
          .filter(([, response]) => isErrorResponse(response))
          .flatMap(([status, response]) => {
            const examples = responseExamples(response);
            if (examples.length === 0) return [`${method} ${path} ${status}: no example`];
            return examples
              .filter(
                (e) =>
                  e.statusCode !== Number(status) ||
                  ERROR_STATUS[e.code as ErrorCode] !== Number(status) ||
                  typeof e.message !== 'string' ||
                  typeof e.error !== 'string',
              )
              .map((e) => `${method} ${path} ${status}: ${JSON.stringify(e)}`);
          }),
      );
      expect(wrong).toEqual([]);
    });

    it('keeps the authorization across reloads', async () => {
      const init = await t.http.get('/docs/swagger-ui-init.js').expect(200);
      expect(init.text).toMatch(/"persistAuthorization":\s*true/);
    });
  });

  describe('"Try it out" as it comes', () => {
    it('creates an order from the default body, and from every other example', async () => {
      const op = operation('post', '/api/orders');
      const [first, ...others] = bodyExamples(op);
      expect(first).toEqual({ merchantOrderNo: 'SO-1001', amount: 8880, subject: 'Blue mug' });
      const res = await t.http.post('/api/orders').set(t.merchant).send(first).expect(201);
      expect(res.body).toMatchObject({ ...first, status: 'PENDING' });
      for (const example of others) {
        await t.http.post('/api/orders').set(t.merchant).send(example).expect(201);
      }
    });

    it('pays, refunds and drives the sandbox with the default bodies', async () => {
      const created = await t.http
        .post('/api/orders')
        .set(t.merchant)
        .send({ ...defaultBody('post', '/api/orders'), merchantOrderNo: 'SO-1001-flow' })
        .expect(201);
      const orderId = created.body.id as string;

      const payBody = defaultBody('post', '/api/orders/{id}/payments');
      expect(payBody).toEqual({ channel: 'alipay', method: 'qr' });
      const payment = await t.http
        .post(`/api/orders/${orderId}/payments`)
        .set(t.merchant)
        .send(payBody)
        .expect(201);
      expect(payment.body.action).toMatchObject({ type: 'qr' });
      const outTradeNo = payment.body.outTradeNo as string;

      for (const example of bodyExamples(operation('post', '/api/orders/{id}/payments')).slice(1)) {
        await t.http
          .post(`/api/orders/${orderId}/payments`)
          .set(t.merchant)
          .send(example)
          .expect(201);
      }

      const trades = '/sandbox/alipay/control/trades/{outTradeNo}';
      await t.http
        .post(`/sandbox/alipay/control/trades/${outTradeNo}/pay`)
        .send(defaultBody('post', `${trades}/pay`))
        .expect(200);
      await eventually(async () => expect(await orderStatus(t, orderId)).toBe('PAID'));

      for (const example of bodyExamples(operation('post', '/api/orders/{id}/refunds'))) {
        await t.http
          .post(`/api/orders/${orderId}/refunds`)
          .set(t.merchant)
          .send(example)
          .expect(201);
      }

      await t.http
        .post(`/sandbox/alipay/control/trades/${outTradeNo}/notify`)
        .send(defaultBody('post', `${trades}/notify`))
        .expect(200);
      await t.http
        .post(`/sandbox/alipay/control/trades/${outTradeNo}/next-refund`)
        .send(defaultBody('post', `${trades}/next-refund`))
        .expect(200);

      // mark-paid needs a trade still waiting for the buyer: another order's attempt
      const other = await t.http
        .post('/api/orders')
        .set(t.merchant)
        .send({ ...defaultBody('post', '/api/orders'), merchantOrderNo: 'SO-1001-silent' })
        .expect(201);
      const waiting = await t.http
        .post(`/api/orders/${other.body.id}/payments`)
        .set(t.merchant)
        .send(payBody)
        .expect(201);
      await t.http
        .post(`/sandbox/alipay/control/trades/${waiting.body.outTradeNo}/mark-paid`)
        .send(defaultBody('post', `${trades}/mark-paid`))
        .expect(200);
    });

    it('answers every list and read that needs no input with its untouched defaults', async () => {
      const candidates = operations().filter(
        ({ method, path, op }) =>
          method === 'get' &&
          !path.includes('{') &&
          !path.startsWith('/sandbox/alipay/gateway') &&
          !((op.parameters ?? []) as Json[]).some((p) => p.required),
      );
      expect(candidates.map((c) => c.path)).toEqual(
        expect.arrayContaining([
          '/admin/orders',
          '/admin/webhooks/deliveries',
          '/admin/refunds',
          '/health',
          '/metrics',
        ]),
      );
      for (const { path, op } of candidates) {
        const res = await t.http.get(path).query(defaultQuery(op)).set(credentials(op));
        expect({ path, status: res.status }).toEqual({ path, status: 200 });
      }
    });
  });
});
