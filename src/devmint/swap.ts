// NUT-03 swap: POST /v1/swap {inputs, outputs} → {signatures}.
// Contract: sum(inputs) − ceil(sum(input_fee_ppk)/1000) == sum(outputs), else 11005.
import { Code, failIf } from './errors.js';
import type { BlindSignatureJson } from './crypto.js';
import type { Ledger } from './ledger.js';
import { body, outputs, proofs } from './validate.js';

export async function swap(ledger: Ledger, raw: unknown): Promise<{ signatures: BlindSignatureJson[] }> {
  const req = body(raw);
  const ins = proofs(req.inputs, 'inputs');
  const outs = outputs(req.outputs, 'outputs');
  const verified = ledger.verifyInputs(ins);
  const signed = ledger.signOutputs(outs);
  failIf(verified.total - verified.fee !== signed.total, Code.UNBALANCED,
    `transaction is not balanced: inputs ${verified.total} − fees ${verified.fee} ≠ outputs ${signed.total}`);
  await ledger.commit(verified, signed);
  return { signatures: signed.items.map((i) => i.sig) };
}
