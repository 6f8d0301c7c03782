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

export interface WalletState {
  proofs: StoredProof[];
  payments: PendingPayment[];
  quotes: PendingQuote[];
  /** The last withdrawn token, shown again on request: it left the balance, not the browser. */
  lastWithdrawal?: { token: string; amount: number; at: number };
}

const PREFIX = 'owlrun:wallet:v1:';

export function walletKey(mint: string): string {
  return PREFIX + mint;
}

export function emptyState(): WalletState {
  return { proofs: [], payments: [], quotes: [] };
}

export function loadState(mint: string): WalletState {
  const raw = localStorage.getItem(walletKey(mint));
  if (!raw) return emptyState();
  try {
    const s = JSON.parse(raw) as Partial<WalletState>;
    return { ...s, proofs: s.proofs ?? [], payments: s.payments ?? [], quotes: s.quotes ?? [] };
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

/** Settings that are not money: the API key (when the gateway requires one), the chosen model. */
export const settings = {
  get(name: 'apiKey' | 'model'): string {
    return localStorage.getItem(`owlrun:${name}`) ?? '';
  },
  set(name: 'apiKey' | 'model', value: string): void {
    if (value) localStorage.setItem(`owlrun:${name}`, value);
    else localStorage.removeItem(`owlrun:${name}`);
  },
};
