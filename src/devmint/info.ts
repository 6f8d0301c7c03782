// NUT-06 mint info and NUT-01/02 key listings of the development mint.
import type { MintKeyset } from './keys.js';
import type { QuoteLimits } from './mint-quotes.js';

export const NOT_REAL_MONEY =
  'DEVELOPMENT MINT: its sats are NOT real money. Every Lightning invoice is "paid" by a fake backend.';

export interface InfoParams {
  name: string;
  pubkey: string;
  limits: QuoteLimits;
}

/** GET /v1/info */
export function info(p: InfoParams): Record<string, unknown> {
  const method = { method: 'bolt11', unit: 'sat', min_amount: p.limits.minAmount, max_amount: p.limits.maxAmount };
  return {
    name: p.name,
    pubkey: p.pubkey,
    version: 'owlrun-devmint/0.1.0',
    description: NOT_REAL_MONEY,
    description_long:
      'The development mint embedded in the Owlrun gateway. Mint quotes are paid at once, melts always succeed ' +
      'with a Lightning fee of 0, and the whole fee reserve comes back as NUT-08 change. Use it for tests and demos only.',
    contact: [],
    motd: NOT_REAL_MONEY,
    time: Math.floor(Date.now() / 1000),
    nuts: {
      4: { methods: [{ ...method, options: { description: true } }], disabled: false },
      5: { methods: [method], disabled: false },
      7: { supported: true },
      8: { supported: true },
      9: { supported: true },
      10: { supported: false },
      11: { supported: false },
      12: { supported: true },
    },
  };
}

/** One entry of GET /v1/keysets */
export function keysetInfo(k: MintKeyset): Record<string, unknown> {
  return { id: k.id, unit: k.unit, active: k.active, input_fee_ppk: k.inputFeePpk };
}

/** One entry of GET /v1/keys and /v1/keys/{id} */
export function keysetKeys(k: MintKeyset): Record<string, unknown> {
  return { id: k.id, unit: k.unit, active: k.active, input_fee_ppk: k.inputFeePpk, keys: k.pubkeys };
}
