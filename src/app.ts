import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config/types.js';
import { baseHeaders, cors } from './http/cors.js';
import { errorHandler } from './http/errors-middleware.js';
import type { JobDeps } from './job/run.js';
import type { PluginRunner } from './pipeline/runner.js';
import type { Forwarder } from './proxy/forward.js';
import type { BackendPool } from './proxy/pool.js';
import type { AdmissionQueue } from './queue/admission.js';
import { listModels, QuotedRateKey } from './models.js';
import { errorBody } from './errors.js';
import { bearer, KeyRing } from './http/keys.js';
import type { GatewayMetrics } from './metrics/registry.js';
import type { Services } from './pipeline/services.js';
import { adminRouter } from './http/scopes.js';
import { webRoutes } from './web/serve.js';
import { TrustedMintsKey } from './cashu/mint-monitor.js';
import { accessLog, type AccessSink } from './http/access-log.js';
import { INFERENCE_ROUTES, serveInference, type InferenceDeps } from './http/inference.js';
import { requestListener, type RequestListener } from './http/listener.js';
import { sendError } from './http/respond.js';
import type { ReadinessBody } from './ops/readiness.js';

export interface AppDeps {
  config: GatewayConfig;
  log: Logger;
  pool: BackendPool;
  queue: AdmissionQueue;
  forwarder: Forwarder;
  runner: PluginRunner;
  /** Jobs in progress (graceful shutdown waits for them). */
  active: Set<Promise<void>>;
  /** True once shutdown began: new jobs get 503. */
  isDraining(): boolean;
  metrics: GatewayMetrics;
  /** What the plugins provide (e.g. the rate /v1/models quotes sats at). */
  services: Services;
  /** GET /readyz (200 ready, else 503 with the reasons). */
  readiness(): Promise<ReadinessBody>;
  /** Where the access log goes (one line per request); undefined: none. */
  accessLog?: AccessSink;
}

/** What every inference request needs, made once per app. */
function inferenceDeps(deps: AppDeps): InferenceDeps {
  const jobs: JobDeps = {
    pool: deps.pool,
    queue: deps.queue,
    forwarder: deps.forwarder,
    runner: deps.runner,
    log: deps.log,
    bodyLimit: deps.config.server.bodyLimit,
    maxEventBytes: 64 * 1024 * 1024,
    active: deps.active,
    metrics: deps.metrics,
  };
  return { jobs, isDraining: deps.isDraining };
}

/** The HTTP server's request listener: inference POSTs on their exact paths directly, the rest through the Koa app (src/http/listener.ts). */
export function createListener(deps: AppDeps): RequestListener {
  const inference = inferenceDeps(deps);
  return requestListener(createApp(deps, inference).callback(), { ...inference, log: deps.log, accessLog: deps.accessLog });
}

/** The Koa app: no listen(), no globals. */
export function createApp(deps: AppDeps, inference: InferenceDeps = inferenceDeps(deps)): Koa {
  const app = new Koa();
  app.proxy = false;
  const router = new Router();

  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const body = await deps.readiness();
    ctx.status = body.status === 'ready' ? 200 : 503;
    ctx.set('cache-control', 'no-store');
    ctx.body = body;
  });
  router.get('/v1/models', (ctx) => {
    ctx.body = { object: 'list', data: listModels(deps.pool, deps.config, deps.services.find(QuotedRateKey)) };
  });
  router.get('/metrics', async (ctx) => {
    const key = deps.config.metrics.key;
    if (key && !new KeyRing([{ id: 'metrics', key }]).match(bearer(ctx.get('Authorization')))) {
      ctx.status = 401;
      ctx.set('WWW-Authenticate', 'Bearer');
      ctx.body = errorBody('auth_invalid_key', 'GET /metrics needs Authorization: Bearer <metrics.key>');
      return;
    }
    ctx.type = deps.metrics.contentType;
    ctx.body = await deps.metrics.text();
  });
  for (const [path, kind] of INFERENCE_ROUTES) {
    router.post(path, async (ctx) => {
      ctx.respond = false;
      // Koa no longer answers for this response: a failure is answered here, as src/http/listener.ts does.
      // The request id and CORS headers also go to the job as its first response headers (as on
      // the direct path): a backend's own X-Request-Id or CORS headers MUST NOT replace them.
      try {
        ctx.state.access = await serveInference(kind, ctx.req, ctx.res, inference, baseHeaders(ctx.response.get('X-Request-Id'), ctx.get('Origin')));
      } catch (err) {
        deps.log.error({ err, path: ctx.path }, 'request failed');
        if (!ctx.res.headersSent) sendError(ctx.res, 'internal_error');
        else ctx.res.destroy();
      }
    });
  }
  const admin = adminRouter(deps.config.admin);
  for (const plugin of deps.runner.plugins) plugin.routes?.(router, { admin });
  router.use(admin.routes());
  webRoutes(router, deps.config, { paymentRequired: deps.services.has(TrustedMintsKey) }); // GET / (the chat page), /web/*, /v1/payment/info

  app.use(accessLog(deps.accessLog));
  app.use(errorHandler(deps.log));
  app.use(cors());
  app.use(router.routes());
  app.use(router.allowedMethods());
  app.on('error', (err: Error) => deps.log.debug({ err }, 'koa error'));
  return app;
}
