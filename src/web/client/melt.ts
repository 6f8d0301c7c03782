// Paying a Lightning invoice from the wallet (NUT-05 melt), with the unused fee reserve coming
// back as change (NUT-08). The melt is journaled like every request that sends proofs.
import type { MeltQuoteBolt11Response } from '@cashu/cashu-ts';
import { withWalletLock } from './lock.js';
import { addNew, asProofs, plainAll, total, without } from './proofs.js';
import { sumProofs } from './store.js';
import { WalletError, type BrowserWallet } from './wallet.js';

/** What paying this invoice takes: the mint's quote (amount and the most the routing fee can be). */
export async function quoteInvoice(wallet: BrowserWallet, invoice: string): Promise<MeltQuoteBolt11Response> {
  const w = await wallet.cashu();
  return w.createMeltQuoteBolt11(invoice.trim().replace(/^lightning:/i, ''));
}

/**
 * Pays a quoted invoice from the balance: proofs covering the amount and the fee reserve are
 * melted, and what the payment did not use comes back as change. Returns the sats paid and back;
 * `pending` while the mint still pays (the journal entry stays, recovery finishes it).
 */
export function payInvoice(wallet: BrowserWallet, quote: MeltQuoteBolt11Response): Promise<{ paid: number; back: number; pending: boolean }> {
  return withWalletLock(async () => {
    const w = await wallet.cashu();
    const s = wallet.state();
    const need = quote.amount.toNumber() + quote.fee_reserve.toNumber();
    const pick = w.selectProofsToSend(asProofs(s.proofs), need, true);
    const inputs = plainAll(pick.send);
    if (inputs.length === 0 || sumProofs(inputs) < need + w.getFeesForProofs(pick.send).toNumber()) {
      throw new WalletError(`Not enough sats: this invoice needs up to ${need} (with the fee reserve); the wallet has ${sumProofs(s.proofs)}.`);
    }
    const res = await wallet.journaled(
      { kind: 'melt', inputs, quote: quote.quote },
      (cw) => cw.meltProofsBolt11(quote, pick.send),
      (st, r) => {
        st.proofs = without(st.proofs, inputs);
        addNew(st.proofs, plainAll(r.change));
        return r.quote.state !== 'PENDING';
      },
    );
    const back = total(res.change);
    return { paid: sumProofs(inputs) - back, back, pending: res.quote.state === 'PENDING' };
  });
}
