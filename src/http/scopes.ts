import Router from '@koa/router';
import type { Middleware } from 'koa';
import { GatewayError } from '../errors.js';
import { bearer, KeyRing } from './keys.js';

export const CHALLENGE = { 'WWW-Authenticate': 'Bearer' };

/** Answers of a key-protected scope MUST never be cached: balances, tokens, the books. */
export const noStore: Middleware = async (ctx, next) => {
  ctx.set('Cache-Control', 'no-store');
  await next();
};

/**
 * The operator's key for every /admin route. No key configured: the admin routes answer 404
 * (they are disabled), so an unconfigured gateway never exposes them.
 */
export function adminAuth(admin: { key?: string; sha256?: string }): Middleware {
  const ring = admin.key || admin.sha256 ? new KeyRing([{ id: 'admin', key: admin.key, sha256: admin.sha256 }]) : undefined;
  return async (ctx, next) => {
    if (!ring) throw new GatewayError('route_not_found', 'admin endpoints are disabled: set admin.key (or admin.sha256) in the config');
    const key = bearer(ctx.get('Authorization') || undefined);
    if (!key) throw new GatewayError('auth_missing_key', 'the admin key is required: Authorization: Bearer KEY', CHALLENGE);
    if (!ring.match(key)) throw new GatewayError('auth_invalid_key', 'the admin key is not valid', CHALLENGE);
    await next();
  };
}

/** Routers a plugin mounts its endpoints on, besides the root one. */
export interface RouteScopes {
  /** Mounted at /admin: the admin key is checked and answers are never cached, for every route. */
  readonly admin: Router;
}

export function adminRouter(admin: { key?: string; sha256?: string }): Router {
  const r = new Router({ prefix: '/admin' });
  r.use(adminAuth(admin), noStore);
  return r;
}
