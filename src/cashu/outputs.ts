// Blinded outputs (NUT-00 BDHKE via cashu-ts OutputData): creation, the row persisted before a
// swap, rebuilding from that row after a crash, and unblinding a signature into a proof.
// The blinding factor r and the secret are bearer money: they never leave the store or process.

import { Amount, OutputData, type SerializedBlindedSignature } from '@cashu/cashu-ts';
import type { KeysetKeys } from './keysets.js';
import type { NewOutput, OutputRow } from './holdings.js';
import type { WalletProof } from './types.js';

/** Wire shape of a blinded message (NUT-00 BlindedMessage) with a number amount. */
export interface BlindedMessageJson {
  amount: number;
  id: string;
  B_: string;
}

/** Wire shape of a blind signature as mints send it. */
export interface BlindSignatureJson {
  amount: number;
  id: string;
  C_: string;
  dleq?: { e: string; s: string };
}

export interface PreparedOutput {
  readonly data: OutputData;
  readonly message: BlindedMessageJson;
  readonly row: NewOutput;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** One random output per amount (fresh 32-byte secret, random r), in the given order. */
export function createOutputs(amounts: readonly number[], keyset: KeysetKeys, jobId: string, mint: string): PreparedOutput[] {
  return amounts.map((amount) => {
    const data = OutputData.createSingleRandomData(amount, keyset.id);
    const message: BlindedMessageJson = { amount, id: keyset.id, B_: data.blindedMessage.B_ };
    const row: NewOutput = {
      b_: message.B_, job_id: jobId, mint, keyset_id: keyset.id, amount,
      secret: decoder.decode(data.secret),
      r: data.blindingFactor.toString(16).padStart(64, '0'),
    };
    return { data, message, row };
  });
}

/** Rebuilds the OutputData of a persisted output (for NUT-09 restore). */
export function outputFromRow(row: Pick<OutputRow, 'b_' | 'keyset_id' | 'amount' | 'secret' | 'r'>): PreparedOutput['data'] {
  return new OutputData(
    { amount: Amount.from(Number(row.amount)), id: row.keyset_id, B_: row.b_ },
    BigInt('0x' + row.r),
    encoder.encode(row.secret),
  );
}

export function blindedMessageOfRow(row: Pick<OutputRow, 'b_' | 'keyset_id' | 'amount'>): BlindedMessageJson {
  return { amount: Number(row.amount), id: row.keyset_id, B_: row.b_ };
}

/**
 * The proof for `output` from the mint's signature. Throws when the signature does not belong
 * to this output (amount or keyset differ) or its DLEQ proof (if present, NUT-12) fails.
 */
export function unblind(output: OutputData, sig: BlindSignatureJson, keyset: KeysetKeys): WalletProof {
  const expected = output.blindedMessage;
  if (!sig || typeof sig.C_ !== 'string' || Number(sig.amount) !== Number(expected.amount.toString()) || sig.id !== expected.id) {
    throw new Error('wallet: the mint returned a signature that does not match the output');
  }
  const serialized: SerializedBlindedSignature = {
    id: sig.id, amount: Amount.from(sig.amount), C_: sig.C_,
    ...(sig.dleq && typeof sig.dleq.e === 'string' && typeof sig.dleq.s === 'string' && { dleq: { e: sig.dleq.e, s: sig.dleq.s } }),
  };
  const p = output.toProof(serialized, keyset);
  return {
    id: p.id,
    amount: Number(Amount.from(p.amount).toBigInt()),
    secret: p.secret,
    C: p.C,
    ...(p.dleq && { dleq: { e: p.dleq.e, s: p.dleq.s, ...(p.dleq.r && { r: p.dleq.r }) } }),
  };
}
