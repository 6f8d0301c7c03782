import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { accessLine, newRequestId, type AccessNote, type AccessSink } from './access-log.js';
import { baseHeaders } from './cors.js';
import { INFERENCE_ROUTES, serveInference, type InferenceDeps } from './inference.js';
import { sendError } from './respond.js';

// The gateway's HTTP request listener. An inference POST on its exact path (query string aside)
// skips the Koa stack — context objects, the middleware chain, router matching — and goes
// straight to serveInference; every other request (other routes, other methods: OPTIONS
// preflights, 405s; paths the router matches loosely: a trailing slash, other letter case) goes
// to the Koa app, which routes the inference paths to the same serveInference.
//
// MUST hold: a request taken here gets what the Koa stack gives it — X-Request-Id and the CORS
// headers (here given to the job as its first response headers, so that every answer writes
// them with its own in one writeHead); one access-log line with the route's pattern as its path;
// the same answers (503 while draining, runJob's own errors) — and an unanswered one (the client
// left first) is recorded with Koa's default status, 404.

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface ListenerDeps extends InferenceDeps {
  log: Logger;
  accessLog?: AccessSink;
}

/** `koa`: the app's callback, for everything but the inference routes' exact paths. */
export function requestListener(koa: RequestListener, deps: ListenerDeps): RequestListener {
  return (req, res) => {
    if (req.method === 'POST') {
      const url = req.url ?? '';
      const q = url.indexOf('?');
      const path = q === -1 ? url : url.slice(0, q);
      const route = INFERENCE_ROUTES.get(path);
      if (route !== undefined) return void direct(path, route, req, res, deps);
    }
    koa(req, res);
  };
}

async function direct(path: string, route: Parameters<typeof serveInference>[0], req: IncomingMessage, res: ServerResponse, deps: ListenerDeps): Promise<void> {
  const started = performance.now();
  const requestId = newRequestId();
  res.statusCode = 404;
  const headers = baseHeaders(requestId, req.headers.origin);
  let note: AccessNote | undefined;
  try {
    note = await serveInference(route, req, res, deps, headers, started);
  } catch (err) {
    deps.log.error({ err, path }, 'request failed');
    if (!res.headersSent) sendError(res, 'internal_error', headers);
    else res.destroy();
  }
  deps.accessLog?.write(
    accessLine({ method: 'POST', path, status: res.statusCode, model: note?.model, costSats: note?.costSats, durationMs: performance.now() - started, requestId, job: note?.job }),
  );
}
