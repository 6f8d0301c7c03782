// NUT-04 minting over bolt11 with the fake Lightning backend: a quote is PAID as soon as it exists
// (nobody pays its invoice), becomes ISSUED when its outputs are signed, and is never issued twice.
import type { BlindSignatureJson } from './crypto.js';
import { Code, MintError, failIf } from './errors.js';
import type { Ledger } from './ledger.js';
import { createFakeInvoiceDetailed } from './lightning.js';
import { newQuoteId, type DevMintRepository, type MintQuoteRow } from './repository.js';
import { amount, body, outputs, str, unit } from './validate.js';

export interface QuoteLimits {
  minAmount: number;
  maxAmount: number;
  ttlSeconds: number;
}

export interface MintQuoteJson {
  quote: string;
  request: string;
  amount: number;
  unit: string;
  state: MintQuoteRow['state'];
  expiry: number;
  /** deprecated NUT-04 field, kept for older wallets */
  paid: boolean;
}

function toJson(q: MintQuoteRow): MintQuoteJson {
  return { quote: q.quote, request: q.request, amount: q.amount, unit: q.unit, state: q.state, expiry: q.expiry, paid: q.state !== 'UNPAID' };
}

/** POST /v1/mint/quote/bolt11 {amount, unit, description?} */
export async function createMintQuote(repo: DevMintRepository, limits: QuoteLimits, raw: unknown): Promise<MintQuoteJson> {
  const req = body(raw);
  const u = unit(req.unit);
  const a = amount(req.amount, 'amount');
  failIf(a < limits.minAmount || a > limits.maxAmount, Code.AMOUNT_LIMIT,
    `amount must be between ${limits.minAmount} and ${limits.maxAmount} sat`);
  const description = req.description === undefined ? undefined : str(req.description, 'description', 500);
  const q: MintQuoteRow = {
    quote: newQuoteId(),
    request: createFakeInvoiceDetailed(a, description, limits.ttlSeconds).invoice,
    amount: a,
    unit: u,
    state: 'PAID', // fake Lightning: paid the moment it is asked for
    expiry: Math.floor(Date.now() / 1000) + limits.ttlSeconds,
  };
  await repo.insertMintQuote(q);
  return toJson(q);
}

/** GET /v1/mint/quote/bolt11/{quote} */
export async function getMintQuote(repo: DevMintRepository, quote: string): Promise<MintQuoteJson> {
  const q = await repo.mintQuote(repo.db, quote);
  if (!q) throw new MintError(Code.NOT_ALLOWED, 'quote not found');
  return toJson(q);
}

/** POST /v1/mint/bolt11 {quote, outputs} → {signatures}; outputs must sum to the quote amount. */
export async function mintTokens(repo: DevMintRepository, ledger: Ledger, raw: unknown): Promise<{ signatures: BlindSignatureJson[] }> {
  const req = body(raw);
  const quoteId = str(req.quote, 'quote', 200);
  const outs = outputs(req.outputs, 'outputs');
  const q = await repo.mintQuote(repo.db, quoteId);
  if (!q) throw new MintError(Code.NOT_ALLOWED, 'quote not found');
  failIf(q.state === 'ISSUED', Code.QUOTE_ISSUED, 'quote has already been issued');
  failIf(q.state !== 'PAID', Code.QUOTE_NOT_PAID, 'quote request is not paid');
  const signed = ledger.signOutputs(outs);
  failIf(signed.total !== q.amount, Code.UNBALANCED, `outputs sum to ${signed.total}, the quote is for ${q.amount}`);
  await ledger.commit(null, signed, async (sql) => {
    failIf(!(await repo.markMintQuoteIssued(sql, quoteId)), Code.QUOTE_ISSUED, 'quote has already been issued');
  });
  return { signatures: signed.items.map((i) => i.sig) };
}
