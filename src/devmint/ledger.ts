// The core of the mint: verifies inputs, signs outputs, and commits both atomically.
// Contract: an input is accepted only if its keyset is known, its amount is a key of that keyset,
// C == k·hash_to_curve(secret), and its Y is unspent; outputs only on an active keyset with a key
// for their amount and a B_ never signed before. Spent marks and signatures land in ONE db.tx,
// so of two concurrent spends of one proof exactly one commits (the other gets 11001).
import type { SqlExecutor } from '../store/db.js';
import { parsePoint, secretToY, signBlinded, verifyProofSignature, type BlindSignatureJson } from './crypto.js';
import { Code, MintError, failIf } from './errors.js';
import { inputFee, type MintKeyset } from './keys.js';
import type { DevMintRepository } from './repository.js';
import { sum, type OutputIn, type ProofIn } from './validate.js';

export interface VerifiedInputs {
  readonly items: ReadonlyArray<{ y: string; keysetId: string; amount: number }>;
  readonly total: number;
  readonly fee: number;
}
export interface SignedOutputs {
  readonly items: ReadonlyArray<{ B_: string; sig: BlindSignatureJson }>;
  readonly total: number;
}

const NUT10_KINDS = /^\s*\[\s*"(?:P2PK|HTLC)"/;

export class Ledger {
  constructor(
    private readonly repo: DevMintRepository,
    private readonly keysets: ReadonlyMap<string, MintKeyset>,
  ) {}

  /** The keyset of `id`; with allowShort, a v2 id may come in its 16-hex short form (inputs only). */
  keyset(id: string, allowShort = false): MintKeyset {
    let k = this.keysets.get(id);
    if (!k && allowShort && id.length === 16 && id.startsWith('01')) {
      const hits = [...this.keysets.values()].filter((c) => c.id.startsWith(id));
      if (hits.length === 1) k = hits[0];
    }
    if (!k) throw new MintError(Code.KEYSET_UNKNOWN, 'keyset is not known');
    return k;
  }

  /** Checks signatures and amounts (not the spent set: that happens inside the commit tx). */
  verifyInputs(proofs: readonly ProofIn[]): VerifiedInputs {
    const items = proofs.map((p, i) => {
      const k = this.keyset(p.id, true);
      const priv = k.privkeys.get(p.amount);
      failIf(!priv, Code.PROOF_INVALID, `inputs[${i}]: the keyset has no key for amount ${p.amount}`);
      failIf(NUT10_KINDS.test(p.secret), Code.PROOF_INVALID,
        `inputs[${i}]: spending conditions (NUT-10/11/14) are not supported by the development mint`);
      const C = parsePoint(p.C);
      failIf(!C || !verifyProofSignature(p.secret, C!, priv!, k.id), Code.PROOF_INVALID, `inputs[${i}]: proof verification failed`);
      return { y: secretToY(p.secret), keysetId: k.id, amount: p.amount, feePpk: k.inputFeePpk };
    });
    failIf(new Set(items.map((i) => i.y)).size !== items.length, Code.DUPLICATE_INPUTS, 'duplicate inputs provided');
    return {
      items: items.map(({ y, keysetId, amount }) => ({ y, keysetId, amount })),
      total: sum(items.map((i) => i.amount)),
      fee: inputFee(items.map((i) => i.feePpk)),
    };
  }

  /** Signs outputs with the amounts given (`amounts` overrides them, for NUT-08 change). */
  signOutputs(outputs: readonly OutputIn[], amounts?: readonly number[]): SignedOutputs {
    const items = outputs.map((o, i) => {
      const a = amounts ? amounts[i] : o.amount;
      if (a === undefined) throw new Error('devmint: missing change amount');
      const k = this.keyset(o.id);
      failIf(!k.active, Code.KEYSET_INACTIVE, 'keyset is inactive, cannot sign messages');
      const priv = k.privkeys.get(a);
      failIf(!priv, Code.TRANSACTION, `outputs[${i}]: the keyset has no key for amount ${a}`);
      const B_ = parsePoint(o.B_);
      failIf(!B_, Code.NOT_ALLOWED, `outputs[${i}].B_ is not a valid point`);
      return { B_: o.B_, sig: signBlinded(B_!, priv!, k.id, a) };
    });
    return { items, total: sum(items.map((i) => i.sig.amount)) };
  }

  /**
   * In one transaction: rejects spent inputs (11001) and already-signed outputs (11003), runs
   * `extra` (quote state changes; it must throw to abort), then records spends and signatures.
   */
  async commit(inputs: VerifiedInputs | null, outputs: SignedOutputs, extra?: (sql: SqlExecutor) => Promise<void>): Promise<void> {
    const ys = inputs ? inputs.items.map((i) => i.y) : [];
    const bs = outputs.items.map((o) => o.B_);
    try {
      await this.repo.db.tx(async (sql) => {
        failIf((await this.repo.spentYs(sql, ys)).size > 0, Code.PROOFS_SPENT, 'proofs already spent');
        failIf((await this.repo.signedBs(sql, bs)).size > 0, Code.OUTPUTS_SIGNED, 'outputs have already been signed before');
        if (extra) await extra(sql);
        await this.repo.spendAndSign(sql, { inputs: inputs?.items ?? [], outputs: outputs.items });
      });
    } catch (err) {
      if (err instanceof MintError || !isUniqueViolation(err)) throw err;
      // A concurrent writer won the race past our checks (PostgreSQL): report what it took.
      if ((await this.repo.spentYs(this.repo.db, ys)).size > 0) throw new MintError(Code.PROOFS_SPENT, 'proofs already spent');
      throw new MintError(Code.OUTPUTS_SIGNED, 'outputs have already been signed before');
    }
  }
}

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}
