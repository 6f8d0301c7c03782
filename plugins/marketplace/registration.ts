import { errorBody, GatewayError } from '../../src/errors.js';
import { KeyRing } from '../../src/http/keys.js';
import type { KeyEntry } from '../../src/config/types.js';
import type { MarketplaceAccounts } from './accounts.js';

/** The keys the agent makes for itself: owlr_prov_ + 48 lowercase hex. */
export const AGENT_KEY = /^owlr_prov_[0-9a-f]{48}$/;
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;
/** An Ollama tag as the agent lists it ("qwen2.5:0.5b", "mock:latest", "library/x:7b-q4_K_M"). */
const MODEL_TAG = /^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,199}$/;
const MAX_MODELS = 64;

export interface AgentRegistration {
  nodeId: string;
  models: string[];
  info: Record<string, unknown>;
}

/** The agent's body has node_id and api_key and no url; a URL registration has url. */
export function isAgentRegistration(body: Record<string, unknown>): boolean {
  return body.url === undefined && typeof body.node_id === 'string' && typeof body.api_key === 'string';
}

export class RegistrationError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super('registration refused');
  }
}

const refuse = (code: 'invalid_request' | 'auth_missing_key' | 'auth_invalid_key', message: string) => {
  const err = new GatewayError(code, message);
  return new RegistrationError(err.status, errorBody(code, message));
};

/** Validates the agent's registration body (extra fields ignored, zero fields may be missing). */
export function parseAgentRegistration(body: Record<string, unknown>): AgentRegistration {
  const nodeId = body.node_id;
  if (typeof nodeId !== 'string' || !NODE_ID.test(nodeId)) throw refuse('invalid_request', 'node_id: the node\'s UUID');
  const models = body.models ?? [];
  if (!Array.isArray(models) || models.length > MAX_MODELS || !models.every((m) => typeof m === 'string' && MODEL_TAG.test(m))) {
    throw refuse('invalid_request', `models: up to ${MAX_MODELS} Ollama tags`);
  }
  const pick = (k: string, kind: 'string' | 'number' | 'boolean') => (typeof body[k] === kind ? { [k]: kind === 'string' ? (body[k] as string).slice(0, 200) : body[k] } : {});
  const info = {
    ...pick('gpu', 'string'), ...pick('gpu_vendor', 'string'), ...pick('vram_total_mb', 'number'), ...pick('vram_free_mb', 'number'),
    ...pick('vram_exact', 'boolean'), ...pick('region', 'string'), ...pick('version', 'string'), ...pick('lightning_address', 'string'),
  };
  return { nodeId, models: [...new Set(models as string[])], info };
}

/**
 * Who a key is: a key in providers[] is that provider; with openRegistration a new agent key
 * joins on first use; anything else is refused HERE (the agent backs off on a refused
 * registration, but would redial every second on a refused WebSocket).
 */
export class ProviderKeys {
  private readonly configured: KeyRing;

  constructor(
    private readonly config: { providers: readonly KeyEntry[]; marketplace: { openRegistration: boolean } },
    private readonly accounts: MarketplaceAccounts,
  ) {
    this.configured = new KeyRing(config.providers);
  }

  /** The provider of a key that may register, creating it on first use when registration is open. */
  async admit(bearerKey: string | undefined, bodyKey: unknown, now: number): Promise<string> {
    if (!bearerKey) throw refuse('auth_missing_key', 'a provider key is required: Authorization: Bearer KEY');
    if (bodyKey !== bearerKey) throw refuse('auth_invalid_key', 'api_key must be the key of the Authorization header');
    const configured = this.configured.match(bearerKey);
    if (configured) return configured;
    if (this.config.marketplace.openRegistration && AGENT_KEY.test(bearerKey)) return this.accounts.join(bearerKey, now);
    throw refuse('auth_invalid_key', this.config.marketplace.openRegistration ? 'not an Owlrun agent key (owlr_prov_ + 48 hex)' : 'this gateway only accepts the provider keys its operator listed');
  }

  /** The provider of a key, configured or joined before (never creates one): its money stays its own. */
  async lookup(key: string): Promise<string | undefined> {
    return this.configured.match(key) ?? (AGENT_KEY.test(key) ? await this.accounts.providerOfKey(key) : undefined);
  }
}
