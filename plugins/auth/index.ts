import { GatewayError, errorBody } from '../../src/errors.js';
import { bearer, KeyRing } from '../../src/http/keys.js';
import { CONTINUE, type PluginHooks, type Verdict } from '../../src/pipeline/plugin.js';
import { definePlugin } from '../../src/pipeline/manifest.js';
import type { PluginDeps } from '../../src/pipeline/registry.js';

declare module '../../src/pipeline/job.js' {
  interface PluginStates {
    auth?: { keyId: string };
  }
}

/**
 * API keys (`auth.required`): checked first, before anything touches the payment token, so a
 * 401 leaves the client's ecash untouched. With `required: false` the ecash is the credential.
 */
export async function create(deps: PluginDeps): Promise<PluginHooks> {
  const ring = new KeyRing(deps.config.auth.apiKeys);
  const required = deps.config.auth.required;
  return {
    async onRequest(job): Promise<Verdict> {
      const presented = bearer(job.headers.authorization);
      const keyId = ring.match(presented);
      if (keyId) {
        job.state.auth = { keyId };
        return CONTINUE;
      }
      if (!required) return CONTINUE;
      const err = new GatewayError(presented ? 'auth_invalid_key' : 'auth_missing_key');
      deps.metrics.paymentErrors.inc({ reason: err.code });
      return { kind: 'reply', status: err.status, body: errorBody(err.code), headers: { 'WWW-Authenticate': 'Bearer' } };
    },
  };
}

export const manifest = definePlugin({ name: 'auth', priority: 1000, create });
