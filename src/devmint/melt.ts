// NUT-05 melting over bolt11 with NUT-08 change. The fake Lightning backend pays every invoice at
// once with a routing fee of 0, so the whole fee reserve (and any overpayment) comes back as change.
// Contract: inputs must cover amount + fee_reserve + input fees (else 11005); a quote is paid once
// (20006 after); the quote turns PAID, inputs SPENT and change SIGNED in one transaction.
import type { BlindSignatureJson } from './crypto.js';
import { Code, MintError, failIf } from './errors.js';
import { splitAmount } from './keys.js';
import type { Ledger } from './ledger.js';
import { decodeInvoice } from './lightning.js';
import { newQuoteId, type DevMintRepository, type MeltQuoteRow } from './repository.js';
import type { QuoteLimits } from './mint-quotes.js';
import { body, isRecord, outputs, proofs, str, unit } from './validate.js';

/** fee_reserve = max(minSats, ceil(amount × ppk / 1000)); default max(2, 1%). */
export interface FeeReserve {
  minSats: number;
  ppk: number;
}
export const DEFAULT_FEE_RESERVE: FeeReserve = { minSats: 2, ppk: 10 };

export function feeReserveFor(amountSats: number, f: FeeReserve): number {
  return Math.max(f.minSats, Math.floor((amountSats * f.ppk + 999) / 1000));
}

export interface MeltQuoteJson {
  quote: string;
  request: string;
  amount: number;
  fee_reserve: number;
  unit: string;
  state: MeltQuoteRow['state'];
  expiry: number;
  payment_preimage: string | null;
  /** deprecated NUT-05 field, kept for older wallets */
  paid: boolean;
  change?: BlindSignatureJson[];
}

function toJson(q: MeltQuoteRow): MeltQuoteJson {
  const out: MeltQuoteJson = {
    quote: q.quote, request: q.request, amount: q.amount, fee_reserve: q.fee_reserve, unit: q.unit,
    state: q.state, expiry: q.expiry, payment_preimage: q.payment_preimage, paid: q.state === 'PAID',
  };
  if (q.change) out.change = q.change;
  return out;
}

/** POST /v1/melt/quote/bolt11 {request, unit, options?} */
export async function createMeltQuote(repo: DevMintRepository, limits: QuoteLimits, fees: FeeReserve, raw: unknown): Promise<MeltQuoteJson> {
  const req = body(raw);
  const u = unit(req.unit);
  const request = str(req.request, 'request', 4000);
  failIf(req.options !== undefined && req.options !== null && (!isRecord(req.options) || Object.keys(req.options).length > 0),
    Code.NOT_ALLOWED, 'melt options (amountless, mpp) are not supported by the development mint');
  const inv = decodeInvoice(request);
  if (!inv) throw new MintError(Code.NOT_ALLOWED, 'request is not a valid bolt11 invoice');
  if (inv.amountMsat === null) throw new MintError(Code.AMOUNTLESS_INVOICE, 'amountless invoice is not supported');
  const sats = Number((inv.amountMsat + 999n) / 1000n);
  failIf(!Number.isSafeInteger(sats) || sats < limits.minAmount || sats > limits.maxAmount, Code.AMOUNT_LIMIT,
    `amount must be between ${limits.minAmount} and ${limits.maxAmount} sat`);
  const q: MeltQuoteRow = {
    quote: newQuoteId(), request, amount: sats, fee_reserve: feeReserveFor(sats, fees), unit: u, state: 'UNPAID',
    expiry: Math.floor(Date.now() / 1000) + limits.ttlSeconds, payment_preimage: null, change: null,
  };
  await repo.insertMeltQuote(q);
  return toJson(q);
}

/** GET /v1/melt/quote/bolt11/{quote} */
export async function getMeltQuote(repo: DevMintRepository, quote: string): Promise<MeltQuoteJson> {
  const q = await repo.meltQuote(repo.db, quote);
  if (!q) throw new MintError(Code.NOT_ALLOWED, 'quote not found');
  return toJson(q);
}

/** POST /v1/melt/bolt11 {quote, inputs, outputs?} → the paid quote with `change` (NUT-08). */
export async function melt(repo: DevMintRepository, ledger: Ledger, raw: unknown): Promise<MeltQuoteJson> {
  const req = body(raw);
  const quoteId = str(req.quote, 'quote', 200);
  const ins = proofs(req.inputs, 'inputs');
  const blanks = req.outputs === undefined || req.outputs === null ? [] : outputs(req.outputs, 'outputs', { allowEmpty: true, amounts: false });
  const q = await repo.meltQuote(repo.db, quoteId);
  if (!q) throw new MintError(Code.NOT_ALLOWED, 'quote not found');
  failIf(q.state === 'PAID', Code.INVOICE_PAID, 'invoice already paid');
  failIf(q.state === 'PENDING', Code.QUOTE_PENDING, 'quote is pending');
  const verified = ledger.verifyInputs(ins);
  const due = q.amount + q.fee_reserve;
  failIf(verified.total - verified.fee < due, Code.UNBALANCED,
    `inputs ${verified.total} − fees ${verified.fee} do not cover amount ${q.amount} + fee reserve ${q.fee_reserve}`);
  const inv = decodeInvoice(q.request);
  const lightningFeePaid = 0; // the fake backend routes for free
  // NUT-08: the overpaid amount, split in powers of two, on as many blank outputs as were given.
  const largest = blanks[0] ? 2 ** (ledger.keyset(blanks[0].id).maxOrder - 1) : 1;
  const changeAmounts = splitAmount(verified.total - verified.fee - q.amount - lightningFeePaid, largest).slice(0, blanks.length);
  const signed = ledger.signOutputs(blanks.slice(0, changeAmounts.length), changeAmounts);
  const change = signed.items.map((i) => i.sig);
  const preimage = inv?.preimage ?? null;
  await ledger.commit(verified, signed, async (sql) => {
    failIf(await repo.invoicePaid(sql, q.request), Code.INVOICE_PAID, 'invoice already paid');
    failIf(!(await repo.markMeltQuotePaid(sql, quoteId, preimage, change)), Code.INVOICE_PAID, 'invoice already paid');
  });
  return toJson({ ...q, state: 'PAID', payment_preimage: preimage, change });
}
