// The wallet's state in localStorage, one key per mint. Every change is one read-modify-write of
// that key (under the wallet lock, see lock.ts), so a proof is never in two places at once.

/** A proof as stored: cashu-ts's Proof with a plain number amount (ProofLike). */
export interface StoredProof {
  id: string;
  amount: number;
  secret: string;
  C: string;
  dleq?: { e: string; s: string; r?: string };
  witness?: string | { signatures?: string[] } | { preimage: string; signatures?: string[] };
}

/** A token that paid for a prompt, kept until its change is back in the wallet. */
export interface PendingPayment {
  id: string;
  token: string;
  amount: number;
  receipt?: string;
  createdAt: number;
}

/** A Lightning top-up whose proofs are not minted yet (survives a reload). */
export interface PendingQuote {
  quote: string;
  amount: number;
  request: string;
  expiry: number | null;
  createdAt: number;
}

/** Deterministic outputs (NUT-13) an operation asked the mint to sign: counters start…start+count−1. */
export interface CounterRange {
  keysetId: string;
  start: number;
  count: number;
}

/**
 * An operation that sends proofs (or outputs) to the mint, written BEFORE the request goes out and
 * removed in the same write that stores its result. One left over at start-up is an operation the
 * tab did not see finish: recovery asks the mint what became of its inputs (NUT-07) and restores
 * its outputs from their counters (NUT-09).
 */
export interface JournalEntry {
  id: string;
  kind: 'swap' | 'receive' | 'mint' | 'melt';
  /** Proofs sent as inputs: the wallet's own (still in `proofs` until the result is stored) or a received token's. */
  inputs: StoredProof[];
  /** Filled by the counter source as counters are reserved, before any output is sent. */
  ranges: CounterRange[];
  /** receive: a pending payment this closes (its change or its own token coming back). */
  paymentId?: string;
  /** receive: the token, to receive again when the swap never happened. */
  token?: string;
  /** mint: the top-up quote; melt: the melt quote. */
  quote?: string;
  createdAt: number;
}

export interface WalletState {
  proofs: StoredProof[];
  payments: PendingPayment[];
  quotes: PendingQuote[];
  /** NUT-13: the next counter per keyset (outputs derived from the recovery words). */
  counters: Record<string, number>;
  journal: JournalEntry[];
  /** Proofs from before this browser had recovery words are waiting to be swapped for ones they restore. */
  adoptPending?: boolean;
  /** The last withdrawn token, shown again on request: it left the balance, not the browser. */
  lastWithdrawal?: { token: string; amount: number; at: number };
}

const PREFIX = 'owlrun:wallet:v1:';

export function walletKey(mint: string): string {
  return PREFIX + mint;
}

export function emptyState(): WalletState {
  return { proofs: [], payments: [], quotes: [], counters: {}, journal: [] };
}

export function loadState(mint: string): WalletState {
  const raw = localStorage.getItem(walletKey(mint));
  if (!raw) return emptyState();
  try {
    const s = JSON.parse(raw) as Partial<WalletState>;
    return { ...s, proofs: s.proofs ?? [], payments: s.payments ?? [], quotes: s.quotes ?? [], counters: s.counters ?? {}, journal: s.journal ?? [] };
  } catch {
    // Never overwrite what we cannot read: it may be money. Keep it aside and start empty.
    localStorage.setItem(`${walletKey(mint)}:unreadable:${Date.now()}`, raw);
    return emptyState();
  }
}

export function saveState(mint: string, s: WalletState): void {
  localStorage.setItem(walletKey(mint), JSON.stringify(s));
}

export function updateState(mint: string, fn: (s: WalletState) => void): WalletState {
  const s = loadState(mint);
  fn(s);
  saveState(mint, s);
  return s;
}

export function sumProofs(proofs: { amount: number }[]): number {
  return proofs.reduce((n, p) => n + p.amount, 0);
}

type SettingName = 'apiKey' | 'model' | 'backedUp';

/** Settings that are not money: the API key (when the gateway requires one), the chosen model, words noted. */
export const settings = {
  get(name: SettingName): string {
    return localStorage.getItem(`owlrun:${name}`) ?? '';
  },
  set(name: SettingName, value: string): void {
    if (value) localStorage.setItem(`owlrun:${name}`, value);
    else localStorage.removeItem(`owlrun:${name}`);
  },
};
