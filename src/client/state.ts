// What a wallet keeps (one JSON document, in a file or in memory) and the store that keeps it.
// Money rules every change to the state MUST follow:
// - a proof is in exactly one place: `proofs` (spendable), a payment, or an op's inputs;
// - proofs leave `proofs` in the same write that records where they went;
// - counters are advanced (and the range written into its op) before outputs are built from them.

export interface StoredProof {
  id: string;
  amount: number;
  secret: string;
  C: string;
  dleq?: { e: string; s: string; r?: string };
}

/** Counters [start, start + count) of a keyset, reserved for one op's outputs. */
export interface ReservedRange {
  keysetId: string;
  start: number;
  count: number;
}

/**
 * A mint call under way. Its record is written before the call, so a process that dies during
 * it leaves enough to finish: inputs unspent → the call never happened; spent → the outputs are
 * restored (NUT-09) from `ranges`.
 */
export interface PendingOp {
  id: string;
  /** pid of the process running it (0 in a browser). */
  pid: number;
  createdAt: number;
  /** swap: our proofs split for a payment or a send; receive: someone's token swapped into ours; mint: a paid quote. */
  kind: 'swap' | 'receive' | 'mint';
  inputs: StoredProof[];
  ranges: ReservedRange[];
  /** mint: the quote and its amount. */
  quote?: string;
  amount?: number;
  /** receive: the payment whose change or refund this is (closed when the op finishes). */
  paymentId?: string;
}

/** Proofs handed to a gateway: recorded before the request leaves, closed when the change is in. */
export interface Payment {
  id: string;
  pid: number;
  createdAt: number;
  /** The gateway's base URL (where /v1/change/{receipt} is). */
  gateway: string;
  proofs: StoredProof[];
  /** The gateway's receipt for this token (derived from its secrets). */
  receipt: string;
}

export interface PendingQuote {
  quote: string;
  amount: number;
  request: string;
  /** unix seconds, or null when the mint gave none */
  expiry: number | null;
  createdAt: number;
  /** pid of the process waiting for it to be paid. */
  pid: number;
}

export interface SentToken {
  token: string;
  amount: number;
  at: number;
}

export interface WalletState {
  version: 1;
  mint: string;
  /** BIP39 words of the seed (NUT-13). Whoever reads them owns every sat of this wallet. */
  mnemonic: string;
  /** Next unused counter per keyset id. */
  counters: Record<string, number>;
  proofs: StoredProof[];
  payments: Payment[];
  ops: PendingOp[];
  quotes: PendingQuote[];
  /** The last tokens `send` made (newest last), kept so a token lost before delivery can be found. */
  sent: SentToken[];
}

/** Where the state lives. `update` is one read-modify-write, atomic against every other user of the same store. */
export interface WalletStore {
  /** The state, or undefined when none was written yet. */
  read(): Promise<WalletState | undefined>;
  /** Creates the state when there is none; returns what is stored. */
  init(create: () => WalletState): Promise<WalletState>;
  /** Runs fn on the current state under the lock and writes what fn left; nothing is written when fn throws. */
  update<T>(fn: (s: WalletState) => T): Promise<T>;
}

export const sumOf = (ps: readonly { amount: number }[]): number => ps.reduce((n, p) => n + p.amount, 0);

/** A promise chain per key: one critical section at a time within this process. */
export class KeyedMutex {
  private tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}

const MEMORY_MUTEX = new KeyedMutex();

/** The state in memory (browsers, tests): a JSON copy per write, so a throwing update changes nothing. */
export class MemoryStore implements WalletStore {
  private json: string | undefined;
  private readonly key = `memory:${Math.random()}`;

  async read(): Promise<WalletState | undefined> {
    return this.json === undefined ? undefined : (JSON.parse(this.json) as WalletState);
  }

  init(create: () => WalletState): Promise<WalletState> {
    return MEMORY_MUTEX.run(this.key, async () => {
      this.json ??= JSON.stringify(create());
      return JSON.parse(this.json) as WalletState;
    });
  }

  update<T>(fn: (s: WalletState) => T): Promise<T> {
    return MEMORY_MUTEX.run(this.key, async () => {
      if (this.json === undefined) throw new Error('wallet state not initialised');
      const s = JSON.parse(this.json) as WalletState;
      const out = fn(s);
      this.json = JSON.stringify(s);
      return out;
    });
  }
}
