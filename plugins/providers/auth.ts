import type { GatewayConfig } from '../../src/config/types.js';
import { bearer, KeyRing, type KeyDirectory } from '../../src/http/keys.js';
import { ApiError } from './errors.js';

const CHALLENGE = { 'WWW-Authenticate': 'Bearer' };

/**
 * Provider keys (`providers[]`, plain or sha256, compared in constant time by KeyRing) and the
 * admin key. A provider key identifies its provider: every /v1/provider/* call and every node
 * registration acts for that provider only. A request that names another provider (`provider`
 * in the query or body) is refused with 401, as a wrong key is.
 */
export class ApiAuth {
  private readonly providers: KeyRing;
  private readonly admin: KeyRing | undefined;

  /** @param directory keys beyond providers[] (node agents joined on first use), when a plugin admits such keys */
  constructor(
    config: GatewayConfig,
    private readonly directory: () => KeyDirectory | undefined = () => undefined,
  ) {
    this.providers = new KeyRing(config.providers);
    this.admin = config.admin.key || config.admin.sha256 ? new KeyRing([{ id: 'admin', key: config.admin.key, sha256: config.admin.sha256 }]) : undefined;
  }

  /** The provider whose key this is; throws 401 (missing, wrong, or another provider named). */
  async provider(authorization: string | undefined, claimed?: unknown): Promise<string> {
    const key = bearer(authorization);
    if (!key) throw new ApiError('auth_missing_key', 'a provider key is required: Authorization: Bearer KEY', CHALLENGE);
    const id = this.providers.match(key) ?? (await this.directory()?.lookup(key));
    if (!id) throw new ApiError('auth_invalid_key', 'the provider key is not valid', CHALLENGE);
    if (claimed !== undefined && claimed !== null && claimed !== '' && claimed !== id) {
      throw new ApiError('auth_invalid_key', "this key belongs to another provider: a provider can only act for itself", CHALLENGE);
    }
    return id;
  }

  /** Throws unless the admin key is presented; 404 while admin.key is not set. */
  requireAdmin(authorization: string | undefined): void {
    if (!this.admin) throw new ApiError('route_not_found', 'admin endpoints are disabled: set admin.key (or admin.sha256) in the config');
    const key = bearer(authorization);
    if (!key) throw new ApiError('auth_missing_key', 'the admin key is required: Authorization: Bearer KEY', CHALLENGE);
    if (!this.admin.match(key)) throw new ApiError('auth_invalid_key', 'the admin key is not valid', CHALLENGE);
  }
}
