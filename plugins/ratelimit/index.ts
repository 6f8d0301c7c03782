import { errorBody, GatewayError } from '../../src/errors.js';
import { CONTINUE, type PluginHooks, type Verdict } from '../../src/pipeline/plugin.js';
import type { PluginDeps } from '../../src/pipeline/registry.js';
import { definePlugin } from '../../src/pipeline/manifest.js';
import type { InferFields } from '../../src/config/spec.js';
import { Buckets, clientKey } from './buckets.js';
import { ratelimitConfig as config } from './config.js';

const SWEEP_MS = 60_000;

/**
 * Stops floods of unpaid inference requests before they cost anything (a 402 still quotes the
 * prompt with the tokenizer): each client address has a bucket of `unpaidBurst` requests that
 * refills at `unpaidPerMinute`. A request that carries X-Cashu is never counted nor limited,
 * whatever its token is worth. Beyond the limit: 429 `rate_limited` with Retry-After.
 */
export async function create(deps: PluginDeps<InferFields<typeof config>>): Promise<PluginHooks> {
  const { unpaidBurst, unpaidPerMinute } = deps.config.ratelimit;
  const buckets = new Buckets(unpaidBurst, unpaidPerMinute, deps.now);
  const timer = setInterval(() => buckets.sweep(), SWEEP_MS).unref();
  return {
    async onRequest(job): Promise<Verdict> {
      const token = job.headers['x-cashu'];
      if (unpaidBurst === 0 || (token !== undefined && token !== '')) return CONTINUE;
      const wait = buckets.take(clientKey(job.clientAddress));
      if (wait === 0) return CONTINUE;
      const err = new GatewayError('rate_limited');
      deps.metrics.paymentErrors.inc({ reason: err.code });
      return { kind: 'reply', status: err.status, body: errorBody(err.code), headers: { 'Retry-After': String(wait) } };
    },
    async close() {
      clearInterval(timer);
    },
  };
}

/** Runs with payment (402 floods slow paying users down), or alone when listed. */
export const manifest = definePlugin({ name: 'ratelimit', priority: 1100, implied: { by: ['payment'] }, config, create });
