// NUT-07 check state (by Y = hash_to_curve(secret)) and NUT-09 restore (stored signatures by B_).
// Contract: states come back in request order; restore returns only outputs the mint has signed,
// each with its signature (DLEQ included) at the same index.
import type { BlindSignatureJson } from './crypto.js';
import { Code, failIf } from './errors.js';
import type { DevMintRepository } from './repository.js';
import { body, outputs, type OutputIn } from './validate.js';

const Y_HEX = /^0[23][0-9a-f]{64}$/;
const MAX_CHECK = 10_000;

export interface ProofStateJson {
  Y: string;
  state: 'UNSPENT' | 'PENDING' | 'SPENT';
  witness: null;
}

/** POST /v1/checkstate {Ys} → {states} */
export async function checkState(repo: DevMintRepository, raw: unknown): Promise<{ states: ProofStateJson[] }> {
  const req = body(raw);
  failIf(!Array.isArray(req.Ys), Code.NOT_ALLOWED, 'Ys must be an array');
  const ys = (req.Ys as unknown[]).map((y, i) => {
    failIf(typeof y !== 'string' || !Y_HEX.test(y.toLowerCase()), Code.NOT_ALLOWED, `Ys[${i}] is not a compressed point`);
    return (y as string).toLowerCase();
  });
  failIf(ys.length > MAX_CHECK, Code.NOT_ALLOWED, `too many Ys (max ${MAX_CHECK})`);
  const spent = await repo.spentAmong([...new Set(ys)]);
  return { states: ys.map((Y) => ({ Y, state: spent.has(Y) ? 'SPENT' : 'UNSPENT', witness: null })) };
}

/** POST /v1/restore {outputs} → {outputs, signatures, promises} (promises: deprecated alias). */
export async function restore(
  repo: DevMintRepository,
  raw: unknown,
): Promise<{ outputs: OutputIn[]; signatures: BlindSignatureJson[]; promises: BlindSignatureJson[] }> {
  const req = body(raw);
  const outs = outputs(req.outputs, 'outputs', { allowEmpty: true, amounts: false, max: MAX_CHECK });
  const found = await repo.signaturesFor(outs.map((o) => o.B_));
  const matched = outs.filter((o) => found.has(o.B_));
  const signatures = matched.map((o) => found.get(o.B_)!);
  return { outputs: matched.map((o, i) => ({ ...o, amount: signatures[i]!.amount })), signatures, promises: signatures };
}
