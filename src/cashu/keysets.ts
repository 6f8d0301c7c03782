// The keysets of one trusted mint (NUT-01/02): loaded lazily, cached, refreshed on demand at
// most once per `minRefreshMs`. Any failure to load is cashu_mint_unreachable.

import { GatewayError } from '../errors.js';
import type { MintClient } from './mint-client.js';

export interface KeysetInfo {
  readonly id: string;
  readonly unit: string;
  readonly active: boolean;
  /** NUT-02 fee per input, in parts per thousand of a sat. */
  readonly inputFeePpk: number;
  /** amount (decimal string) → compressed pubkey hex; absent until fetched. */
  keys?: Record<string, string>;
}

/** The shape cashu-ts OutputData wants: a keyset id and its keys. */
export interface KeysetKeys {
  readonly id: string;
  readonly keys: Record<string, string>;
}

const POINT = /^0[23][0-9a-fA-F]{64}$/;
const INT = /^[0-9]{1,20}$/;

interface KeysetsResponse { keysets?: unknown }

export class MintKeysets {
  private cache = new Map<string, KeysetInfo>();
  /** 0 = never loaded. */
  private loadedAt = 0;
  private stale = false;
  private loading: Promise<void> | null = null;

  /**
   * minRefreshMs: least time between reloads asked for by unknown keyset ids.
   * ttlMs: age after which the cache is reloaded in the background (keyset rotation) while the
   * cached keysets keep serving, so a slow or failing mint never delays a paid request here.
   */
  constructor(private readonly client: MintClient, private readonly minRefreshMs = 5_000, private readonly ttlMs = 15 * 60_000) {}

  /** Loads the keysets if never loaded (throws cashu_mint_unreachable); refreshes stale ones. */
  async ensure(): Promise<void> {
    if (this.loadedAt === 0) return this.load();
    if (this.stale) {
      this.stale = false; // one attempt; on failure the old cache serves until the TTL
      await this.load().catch(() => undefined);
    } else if (Date.now() - this.loadedAt >= this.ttlMs) {
      void this.load().catch(() => undefined);
    }
  }

  /** Reloads unless the last load is younger than minRefreshMs. True when a reload happened. */
  async refresh(): Promise<boolean> {
    if (this.loadedAt > 0 && Date.now() - this.loadedAt < this.minRefreshMs) return false;
    await this.load();
    return true;
  }

  /** Reload on next use (e.g. the mint said a keyset is unknown or inactive); the cache stays usable until then. */
  invalidate(): void {
    this.stale = true;
  }

  ids(): string[] {
    return [...this.cache.keys()];
  }

  get(id: string): KeysetInfo | undefined {
    return this.cache.get(id);
  }

  /** Keys of one keyset (fetched by id for inactive keysets). */
  async keysFor(id: string): Promise<KeysetKeys> {
    await this.ensure();
    const info = this.cache.get(id);
    if (info?.keys) return { id, keys: info.keys };
    const res = await this.fetch<KeysetsResponse>('keys', `/v1/keys/${encodeURIComponent(id)}`);
    const found = parseKeys(res).get(id);
    if (!found) throw new GatewayError('cashu_keyset_unknown');
    if (info) info.keys = found;
    return { id, keys: found };
  }

  /**
   * The keyset new outputs are signed with: active, unit `sat`, with a key for every amount in
   * `amounts`, cheapest input fee first. Null if the mint has none.
   */
  async outputKeyset(amounts: readonly number[]): Promise<(KeysetKeys & { inputFeePpk: number }) | null> {
    await this.ensure();
    const candidates = [...this.cache.values()]
      .filter((k) => k.active && k.unit === 'sat' && k.keys && amounts.every((a) => k.keys![String(a)] !== undefined))
      .sort((a, b) => a.inputFeePpk - b.inputFeePpk);
    const best = candidates[0];
    return best?.keys ? { id: best.id, keys: best.keys, inputFeePpk: best.inputFeePpk } : null;
  }

  private load(): Promise<void> {
    this.loading ??= (async () => {
      try {
        // allSettled: no request is left running when the other fails.
        const [setsR, keysR] = await Promise.allSettled([
          this.fetch<KeysetsResponse>('keysets', '/v1/keysets'),
          this.fetch<KeysetsResponse>('keys', '/v1/keys'),
        ]);
        if (setsR.status === 'rejected') throw setsR.reason;
        if (keysR.status === 'rejected') throw keysR.reason;
        const [sets, keys] = [setsR.value, keysR.value];
        const next = parseKeysets(sets);
        for (const [id, k] of parseKeys(keys)) {
          const info = next.get(id);
          if (info) info.keys = k;
        }
        // Keep keys fetched by id for inactive keysets.
        for (const [id, old] of this.cache) {
          const info = next.get(id);
          if (info && !info.keys && old.keys) info.keys = old.keys;
        }
        this.cache = next;
        this.loadedAt = Date.now();
        this.stale = false;
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  private async fetch<T>(op: 'keysets' | 'keys', path: string): Promise<T> {
    try {
      return await this.client.get<T>(op, path);
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw new GatewayError('cashu_mint_unreachable', `the mint cannot be reached (${op})`);
    }
  }
}

function parseKeysets(res: KeysetsResponse): Map<string, KeysetInfo> {
  if (!Array.isArray(res.keysets)) throw new GatewayError('cashu_mint_unreachable', 'the mint sent a malformed keyset list');
  const out = new Map<string, KeysetInfo>();
  for (const k of res.keysets as Array<Record<string, unknown>>) {
    if (!k || typeof k.id !== 'string' || typeof k.unit !== 'string') continue;
    const fee = k.input_fee_ppk === undefined || k.input_fee_ppk === null ? 0 : k.input_fee_ppk;
    if (typeof fee !== 'number' || !Number.isSafeInteger(fee) || fee < 0) continue;
    out.set(k.id, { id: k.id, unit: k.unit, active: k.active !== false, inputFeePpk: fee });
  }
  return out;
}

function parseKeys(res: KeysetsResponse): Map<string, Record<string, string>> {
  if (!Array.isArray(res.keysets)) throw new GatewayError('cashu_mint_unreachable', 'the mint sent malformed keys');
  const out = new Map<string, Record<string, string>>();
  for (const k of res.keysets as Array<Record<string, unknown>>) {
    if (!k || typeof k.id !== 'string' || !k.keys || typeof k.keys !== 'object') continue;
    const keys: Record<string, string> = {};
    for (const [amount, pub] of Object.entries(k.keys as Record<string, unknown>)) {
      if (INT.test(amount) && typeof pub === 'string' && POINT.test(pub)) keys[amount] = pub;
    }
    out.set(k.id, keys);
  }
  return out;
}
