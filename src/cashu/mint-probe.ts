// One reachability check of a mint, as the gateway needs it: NUT-06 info answers, and NUT-02
// keysets list at least one active keyset in sats. Used by the background monitor and by
// `owlrun doctor`. Reads only public endpoints: nothing is claimed or spent.

import { MintClient, MintRequestError } from './mint-client.js';

export interface MintProbe {
  url: string;
  ok: boolean;
  /** The mint's name and software version from /v1/info, when it answered. */
  name?: string;
  version?: string;
  /** Units of its active keysets (the gateway needs "sat"). */
  units: string[];
  activeKeysets: number;
  /** Why it failed, one line (no secrets: the URL is public configuration). */
  error?: string;
}

interface KeysetsBody { keysets?: { id?: unknown; unit?: unknown; active?: unknown }[] }
interface InfoBody { name?: unknown; version?: unknown }

export async function probeMint(url: string, timeoutMs: number): Promise<MintProbe> {
  const client = new MintClient(url, { timeoutMs });
  const out: MintProbe = { url, ok: false, units: [], activeKeysets: 0 };
  try {
    const info = await client.get<InfoBody>('info', '/v1/info');
    if (typeof info.name === 'string') out.name = info.name;
    if (typeof info.version === 'string') out.version = info.version;
    const { keysets } = await client.get<KeysetsBody>('keysets', '/v1/keysets');
    const active = (Array.isArray(keysets) ? keysets : []).filter((k) => k.active === true && typeof k.unit === 'string');
    out.activeKeysets = active.length;
    out.units = [...new Set(active.map((k) => k.unit as string))].sort();
    if (!out.units.includes('sat')) {
      out.error = active.length === 0 ? 'GET /v1/keysets lists no active keyset' : `no active keyset in sats (units: ${out.units.join(', ')})`;
      return out;
    }
    out.ok = true;
  } catch (err) {
    out.error = err instanceof MintRequestError ? err.message : (err as Error).message;
  } finally {
    client.close();
  }
  return out;
}
