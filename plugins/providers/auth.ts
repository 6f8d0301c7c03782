import type { Middleware } from 'koa';
import type { KeyEntry } from '../../src/config/types.js';
import { GatewayError } from '../../src/errors.js';
import { bearer, KeyRing, type KeyDirectory } from '../../src/http/keys.js';
import type { PayoutFormat } from '../../src/cashu/token-format.js';
import { CHALLENGE } from '../../src/http/scopes.js';

/** The provider a request acts for, set by providerAuth. */
export interface ProviderState {
  provider: string;
  /** How this key's ecash withdrawals are encoded when the request does not say. */
  payoutFormat?: PayoutFormat;
}

/**
 * Provider keys (`providers[]`, plain or sha256, compared in constant time by KeyRing). A key
 * identifies its provider: every /v1/provider/* call and every node registration acts for that
 * provider only, stored in ctx.state.provider. A request that names another provider
 * (`?provider=`, or a body's `provider` checked with `actsFor`) is refused with 401, as a wrong key is.
 */
export function providerAuth(keys: readonly KeyEntry[], directory: () => KeyDirectory | undefined = () => undefined): Middleware<ProviderState> {
  const ring = new KeyRing(keys);
  return async (ctx, next) => {
    const key = bearer(ctx.get('Authorization') || undefined);
    if (!key) throw new GatewayError('auth_missing_key', 'a provider key is required: Authorization: Bearer KEY', CHALLENGE);
    // Keys beyond providers[]: node agents a plugin admitted (the directory it provides).
    const found = await directory()?.lookup(key);
    const id = ring.match(key) ?? found?.provider;
    if (!id) throw new GatewayError('auth_invalid_key', 'the provider key is not valid', CHALLENGE);
    actsFor(id, ctx.query.provider);
    ctx.state.provider = id;
    if (found?.payoutFormat) ctx.state.payoutFormat = found.payoutFormat;
    await next();
  };
}

/** Throws 401 when a request names another provider than the one whose key it carries. */
export function actsFor(provider: string, claimed: unknown): void {
  if (claimed !== undefined && claimed !== null && claimed !== '' && claimed !== provider) {
    throw new GatewayError('auth_invalid_key', 'this key belongs to another provider: a provider can only act for itself', CHALLENGE);
  }
}
