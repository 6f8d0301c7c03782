import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Router from '@koa/router';
import Koa from 'koa';
import request from 'supertest';
import { buildWeb } from '../../src/web/build.js';
import { webRoutes } from '../../src/web/serve.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';

// GET / (the chat page), GET /web/* (its bundle) and GET /v1/payment/info. The page itself is
// tested in a browser: test/e2e/chat-page.test.ts.

describe('chat page routes', function () {
  this.timeout(60_000);
  let dir: string;
  let app: Koa;
  const config = testConfig({ plugins: ['payment', 'metering', 'change'], payment: { mints: ['http://127.0.0.1:3338/'], minSatsPerJob: 3 } });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'owlrun-web-'));
    await buildWeb({ outDir: dir });
    app = new Koa();
    const router = new Router();
    webRoutes(router, config, { paymentRequired: true, dir });
    app.use(router.routes());
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('GET / is the page, with a CSP that lets it reach the gateway, the trusted mint and https (Lightning addresses) only', async () => {
    const res = await request(app.callback()).get('/').expect(200);
    assert.match(res.headers['content-type'] ?? '', /^text\/html/);
    assert.match(res.text, /data-testid="balance"/);
    assert.match(res.text, /src="\/web\/app\.js"/);
    const csp = res.headers['content-security-policy'] ?? '';
    assert.match(csp, /connect-src 'self' http:\/\/127\.0\.0\.1:3338 https:(;|$)/);
    assert.match(csp, /script-src 'self'/);
  });

  it('serves the bundle under /web/, and nothing else', async () => {
    const js = await request(app.callback()).get('/web/app.js').expect(200);
    assert.match(js.headers['content-type'] ?? '', /javascript/);
    assert.ok(js.text.length > 10_000);
    await request(app.callback()).get('/web/app.css').expect(200).expect('content-type', /text\/css/);
    for (const path of ['/web/..%2Fpackage.json', '/web/%2E%2E%2F%2E%2E%2Fpackage.json', '/web/.hidden', '/web/nope.js', '/web/index.html', '/web/x.ts']) {
      await request(app.callback()).get(path).expect(404);
    }
  });

  it('GET / says how to build when the bundle is missing', async () => {
    const bare = new Koa();
    const router = new Router();
    webRoutes(router, config, { paymentRequired: true, dir: join(dir, 'missing') });
    bare.use(router.routes());
    const res = await request(bare.callback()).get('/').expect(503);
    assert.match(res.text, /npm run build/);
  });

  it('GET /v1/payment/info on a gateway: mints, the least a job costs, whether a key is needed', async () => {
    const gw = await startTestGateway({ plugins: ['auth'], auth: { required: true, apiKeys: [{ id: 'a', key: 'k' }] }, payment: { mints: ['http://127.0.0.1:3338'], minSatsPerJob: 4 } });
    try {
      const res = await fetch(gw.url + '/v1/payment/info');
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { payment_required: false, mints: ['http://127.0.0.1:3338'], unit: 'sat', min_sats_per_job: 4, auth_required: true });
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
    } finally {
      await gw.shutdown(0);
    }
  });
});
