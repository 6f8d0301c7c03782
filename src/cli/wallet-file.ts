import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import QRCode from 'qrcode';
import { openWallet, type OpenWalletOptions, type OwlrunWallet } from '../client/index.js';

// What `owlrun wallet` and `owlrun ask` share: which wallet file, opening it with logs on stderr,
// and QR codes for the terminal.

/** --file, else $OWLRUN_WALLET, else ~/.owlrun/wallet.json. */
export function walletFile(flag: string | undefined): string {
  return flag ?? process.env.OWLRUN_WALLET ?? join(homedir(), '.owlrun', 'wallet.json');
}

export const stderrLog = (msg: string): void => void process.stderr.write(`owlrun: ${msg}\n`);

/** Opens the wallet file (created on first use, with the mint from --mint, $OWLRUN_MINT or the local development mint). */
export function openWalletFile(file: string, mint: string | undefined, extra: Partial<OpenWalletOptions> = {}): Promise<OwlrunWallet> {
  const chosen = mint ?? (existsSync(file) ? undefined : process.env.OWLRUN_MINT);
  return openWallet({ file, ...(chosen ? { mint: chosen } : {}), log: stderrLog, ...extra });
}

/** A QR code of `text` drawn with block characters, or '' when it is too long for one code. */
export async function terminalQr(text: string): Promise<string> {
  try {
    return await QRCode.toString(text, { type: 'terminal', small: true, errorCorrectionLevel: 'L' });
  } catch {
    return '';
  }
}

/** All of standard input, trimmed (for a token or words kept off the command line). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}
