// Token helpers around the development mint. cashu-ts 4.8 decodes V3 (`cashuA`) tokens but only
// encodes V4 (`cashuB`); encodeTokenV3 fills that gap (NUT-00 V3: "cashuA" + base64url(JSON)).
// mintToken is the one-call way for tests and the demo to turn fake sats into a token string.
import { Amount, Wallet, getEncodedToken, type Proof, type Token } from '@cashu/cashu-ts';

interface V3Proof {
  amount: number;
  id: string;
  secret: string;
  C: string;
  dleq?: { e: string; s: string; r?: string };
  witness?: string;
}

/** NUT-00 V3 serialization: compact JSON {token:[{mint,proofs}],unit,memo?}, base64url without padding. */
export function encodeTokenV3(token: Token): string {
  const proofs: V3Proof[] = token.proofs.map((p) => {
    const out: V3Proof = { amount: Amount.from(p.amount).toNumber(), id: p.id, secret: p.secret, C: p.C };
    if (p.dleq) out.dleq = { ...p.dleq };
    if (p.witness !== undefined) out.witness = typeof p.witness === 'string' ? p.witness : JSON.stringify(p.witness);
    return out;
  });
  const json: Record<string, unknown> = { token: [{ mint: token.mint, proofs }], unit: token.unit ?? 'sat' };
  if (token.memo) json.memo = token.memo;
  return `cashuA${Buffer.from(JSON.stringify(json), 'utf8').toString('base64url')}`;
}

/** V3 (`cashuA…`) or V4 (`cashuB…`) token string of proofs of mintUrl. */
export function encodeToken(mintUrl: string, proofs: Proof[], version: 3 | 4 = 4, memo?: string): string {
  const token: Token = { mint: mintUrl, proofs, unit: 'sat', ...(memo ? { memo } : {}) };
  return version === 3 ? encodeTokenV3(token) : getEncodedToken(token);
}

/**
 * Mints `amountSats` fresh sats at the (development) mint at mintUrl with a real cashu-ts Wallet
 * (quote → paid at once → mint) and returns them as a token string, plus the proofs.
 */
export async function mintToken(
  mintUrl: string,
  amountSats: number,
  opts: { version?: 3 | 4; wallet?: Wallet } = {},
): Promise<{ token: string; proofs: Proof[] }> {
  const wallet = opts.wallet ?? new Wallet(mintUrl);
  if (!opts.wallet) await wallet.loadMint();
  const quote = await wallet.createMintQuoteBolt11(amountSats);
  const proofs = await wallet.mintProofsBolt11(amountSats, quote);
  return { token: encodeToken(mintUrl, proofs, opts.version ?? 4), proofs };
}
