import { createHash, timingSafeEqual } from 'node:crypto';
import type { KeyEntry } from '../config/types.js';
import { serviceKey } from '../pipeline/services.js';
import type { PayoutFormat } from '../cashu/token-format.js';

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

/** A set of keys given plain or as sha256; lookups compare digests in constant time. */
export class KeyRing {
  private readonly entries: { id: string; digest: Buffer }[];

  constructor(keys: readonly KeyEntry[]) {
    this.entries = keys.map((k) => ({ id: k.id, digest: k.sha256 ? Buffer.from(k.sha256, 'hex') : sha256(k.key ?? '') }));
  }

  get size(): number {
    return this.entries.length;
  }

  /** The id of the key, or undefined. Every entry is compared, so timing does not tell which matched. */
  match(presented: string | undefined): string | undefined {
    if (!presented) return undefined;
    const d = sha256(presented);
    let found: string | undefined;
    for (const e of this.entries) if (timingSafeEqual(d, e.digest) && found === undefined) found = e.id;
    return found;
  }
}

/** The key of an `Authorization: Bearer KEY` header. */
export function bearer(header: string | string[] | undefined): string | undefined {
  const h = Array.isArray(header) ? header[0] : header;
  const m = h ? /^Bearer\s+(.+)$/i.exec(h.trim()) : null;
  return m?.[1]?.trim();
}

/**
 * Keys beyond `providers[]` that identify a provider (e.g. node agents joined on first use),
 * provided as ProviderKeyDirectory by the plugin that admits them.
 */
export interface KeyDirectory {
  /** The provider of a key (and how its ecash withdrawals are encoded by default), or undefined. */
  lookup(key: string): Promise<{ provider: string; payoutFormat?: PayoutFormat } | undefined>;
}

export const ProviderKeyDirectory = serviceKey<KeyDirectory>('provider-key-directory');
