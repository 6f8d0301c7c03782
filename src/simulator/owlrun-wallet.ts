import { goDeserializeToken, type GoProof } from './owlrun-go.js';

/** One payout the agent took: the token string it keeps, and what it could read of it. */
export interface AgentClaim {
  token: string;
  amount_sats: number;
  /** token[0]'s mint and proofs, when the agent could parse the token (padded cashuA only). */
  parsed?: { mint: string; proofs: GoProof[] };
}

/**
 * The agent's wallet: POST /v1/provider/withdraw-ecash with `{}` (all) when the acked balance
 * reaches 10 000 msat, at most once per cooldown; it keeps the proofs of token[0] and never
 * talks to a mint. A non-200 answer is an error (retried at a later heartbeat).
 */
export class AgentWallet {
  readonly claims: AgentClaim[] = [];
  readonly errors: string[] = [];
  private lastClaim = 0;
  private claiming = false;

  constructor(
    private readonly gateway: string,
    private readonly key: string,
    private readonly cooldownMs: number,
  ) {}

  /** The proofs the agent holds (those it could read). */
  get proofs(): GoProof[] {
    return this.claims.flatMap((c) => c.parsed?.proofs ?? []);
  }

  get balance(): number {
    return this.proofs.reduce((s, p) => s + p.amount, 0);
  }

  /** Withdraws everything when the acked balance (msat) reaches 10 sats and the cooldown passed; the claim made, if any. */
  async autoClaim(balanceMsat: number): Promise<AgentClaim | undefined> {
    if (balanceMsat < 10_000 || this.claiming || Date.now() - this.lastClaim < this.cooldownMs) return undefined;
    this.claiming = true;
    try {
      return await this.claim().catch((err: unknown) => {
        this.errors.push(String(err));
        return undefined;
      });
    } finally {
      this.claiming = false;
    }
  }

  async claim(): Promise<AgentClaim | undefined> {
    this.lastClaim = Date.now();
    const res = await fetch(`${this.gateway}/v1/provider/withdraw-ecash`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${this.key}` }, body: '{}' });
    const text = await res.text();
    if (res.status !== 200) {
      this.errors.push(`HTTP ${res.status}: ${text.slice(0, 512)}`);
      return undefined;
    }
    const body = JSON.parse(text) as { token?: unknown; amount_sats?: unknown };
    const token = typeof body.token === 'string' ? body.token : '';
    const claim: AgentClaim = { token, amount_sats: typeof body.amount_sats === 'number' ? body.amount_sats : 0, parsed: goDeserializeToken(token) };
    if (!claim.parsed) this.errors.push('the token is not one the agent can read (padded cashuA only)');
    this.claims.push(claim);
    return claim;
  }
}
