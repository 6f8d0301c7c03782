import { mintToken } from '../devmint/index.js';

/**
 * `owlrun dev-token AMOUNT [--mint URL] [--v3]`: mints AMOUNT fake sats at a development mint
 * (default the embedded one, http://127.0.0.1:3338) and prints the token. Not real money.
 */
export async function devToken(args: string[]): Promise<void> {
  let mint = 'http://127.0.0.1:3338';
  let version: 3 | 4 = 4;
  let amount: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--mint') mint = args[++i] ?? mint;
    else if (a === '--v3') version = 3;
    else amount = Number(a);
  }
  if (amount === undefined || !Number.isSafeInteger(amount) || amount <= 0) {
    throw new Error('usage: owlrun dev-token AMOUNT [--mint URL] [--v3]   (AMOUNT: whole sats)');
  }
  const { token } = await mintToken(mint, amount, { version });
  process.stdout.write(token + '\n');
}
