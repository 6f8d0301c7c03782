// Lightning addresses (LUD-16): name@domain is an LNURL-pay endpoint (LUD-06) at
// https://domain/.well-known/lnurlp/name whose callback hands out an invoice for an amount. The
// browser asks it directly (LUD-01 services answer with CORS headers). Pure: `fetch` is a parameter.

const ADDRESS = /^([a-z0-9._+-]+)@([a-z0-9-]+(?:\.[a-z0-9-]+)+)$/i;

/** A reason no invoice came from a Lightning address, worded for the person using the page. */
export class LightningAddressError extends Error {}

export function isLightningAddress(text: string): boolean {
  return ADDRESS.test(text.trim());
}

type Fetch = (url: string, init?: RequestInit) => Promise<Response>;

async function ask(fetchFn: Fetch, url: string, domain: string, address: string): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetchFn(url, { headers: { Accept: 'application/json' }, cache: 'no-store', redirect: 'error' });
  } catch {
    throw new LightningAddressError(`Could not reach ${domain} to get an invoice for ${address}: check the address, or paste an invoice instead.`);
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    throw new LightningAddressError(`${domain} did not answer as a Lightning address service (HTTP ${res.status}).`);
  }
  if (typeof body !== 'object' || body === null) throw new LightningAddressError(`${domain} gave no usable answer for ${address}.`);
  const b = body as Record<string, unknown>;
  if (b.status === 'ERROR') throw new LightningAddressError(`${domain} refused: ${typeof b.reason === 'string' ? b.reason : 'no reason given'}.`);
  if (!res.ok) throw new LightningAddressError(`${domain} answered HTTP ${res.status} for ${address}.`);
  return b;
}

/** An invoice of exactly `sats` from the Lightning address (its amount is checked again by the mint's quote). */
export async function invoiceFromAddress(address: string, sats: number, fetchFn: Fetch = (u, i) => fetch(u, i)): Promise<string> {
  const m = ADDRESS.exec(address.trim());
  if (!m) throw new LightningAddressError('That is not a Lightning address (name@domain).');
  const [, name = '', domain = ''] = m;
  const scheme = domain.endsWith('.onion') ? 'http' : 'https';
  const pay = await ask(fetchFn, `${scheme}://${domain}/.well-known/lnurlp/${encodeURIComponent(name.toLowerCase())}`, domain, address);
  const { tag, callback, minSendable, maxSendable } = pay;
  if (tag !== 'payRequest' || typeof callback !== 'string' || typeof minSendable !== 'number' || typeof maxSendable !== 'number') {
    throw new LightningAddressError(`${address} does not take Lightning payments.`);
  }
  const msat = sats * 1000;
  if (msat < minSendable || msat > maxSendable) {
    throw new LightningAddressError(`${address} takes between ${Math.ceil(minSendable / 1000)} and ${Math.floor(maxSendable / 1000)} sats.`);
  }
  let url: URL;
  try {
    url = new URL(callback);
  } catch {
    throw new LightningAddressError(`${domain} gave an unusable payment link.`);
  }
  if (url.protocol !== `${scheme}:`) throw new LightningAddressError(`${domain} gave a payment link that is not ${scheme}.`);
  url.searchParams.set('amount', String(msat));
  const invoice = await ask(fetchFn, url.href, url.hostname, address);
  if (typeof invoice.pr !== 'string' || !/^ln/i.test(invoice.pr)) throw new LightningAddressError(`${domain} gave no invoice.`);
  return invoice.pr;
}
