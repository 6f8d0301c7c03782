import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { errorBody, GatewayError } from '../errors.js';

/** One error path: a GatewayError becomes its OpenAI-shaped body; anything else a logged 500. */
export function errorHandler(log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined && ctx.respond !== false) {
        ctx.status = 404;
        ctx.body = errorBody('route_not_found', `no route ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      if (err instanceof GatewayError) {
        ctx.status = err.status;
        ctx.set(err.headers);
        ctx.body = err.toBody();
        return;
      }
      log.error({ err, path: ctx.path }, 'request failed');
      ctx.status = 500;
      ctx.body = errorBody('internal_error');
    }
  };
}
