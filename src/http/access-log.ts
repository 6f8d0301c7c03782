import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type Koa from 'koa';
import type { Logger } from 'pino';

// One access-log line per request: method, path, status, model, cost, duration, request id.
// MUST never hold a token, receipt or key: no headers, no body, and the path without its query
// string (a node agent's key rides in its URL's query).

export interface AccessNote {
  model?: string;
  costSats?: number;
  job?: string;
}

const notes = new WeakMap<IncomingMessage, AccessNote>();

/** What the job adds to its request's access-log line (called by the job runner). */
export function noteAccess(req: IncomingMessage, note: AccessNote): void {
  notes.set(req, { ...notes.get(req), ...note });
}

/**
 * The path as logged: the route's pattern when a route matched (`/v1/change/:receipt`, never the
 * receipt), else the raw path with every long segment (a token or key pasted by mistake) elided.
 */
export function loggedPath(ctx: Koa.Context): string {
  const matched = (ctx as unknown as { _matchedRoute?: unknown })._matchedRoute;
  if (typeof matched === 'string') return matched;
  return ctx.path.split('/').map((seg) => (seg.length > 32 ? '…' : seg)).join('/').slice(0, 200);
}

/** The Koa middleware: sets X-Request-Id and writes the line once the request was handled (an inference job: settled). */
export function accessLog(log: Logger | undefined): Koa.Middleware {
  return async (ctx, next) => {
    const id = randomUUID();
    const started = performance.now();
    ctx.set('X-Request-Id', id);
    try {
      await next();
    } finally {
      if (log) {
        const n = notes.get(ctx.req) ?? {};
        log.info(
          {
            method: ctx.method,
            path: loggedPath(ctx),
            status: ctx.respond === false ? ctx.res.statusCode : ctx.status,
            model: n.model,
            cost_sats: n.costSats,
            duration_ms: Math.round(performance.now() - started),
            request_id: id,
            job: n.job,
          },
          'request',
        );
      }
    }
  };
}
