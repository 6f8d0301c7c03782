import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CliError } from './common.js';
import { openWalletFile, readStdin, stderrLog, terminalQr, walletFile } from './wallet-file.js';

const USAGE = `usage: owlrun wallet [--file F] [--mint URL] balance | topup SATS | receive [TOKEN] | send SATS | restore | words
  balance        spendable sats, e.g. "286 sats"
  topup SATS     a Lightning invoice (and its QR) from the mint; waits until it is paid
  receive TOKEN  takes in a cashuA/cashuB token (read from stdin when not given)
  send SATS      a token of exactly SATS for someone else (and its QR)
  restore        finds every sat the mint signed for the wallet's seed; a new --file takes the words on stdin
  words          the wallet's 12 recovery words (whoever has them has the sats)
  --file F       the wallet file (default $OWLRUN_WALLET, else ~/.owlrun/wallet.json)
  --mint URL     the mint of a new wallet (default $OWLRUN_MINT, else http://127.0.0.1:3338)`;

function sats(arg: string | undefined): number {
  const n = Number(arg);
  if (arg === undefined || !Number.isSafeInteger(n) || n <= 0) throw new CliError(`${USAGE}\n(SATS: a whole number above 0)`, 2);
  return n;
}

/**
 * `owlrun wallet …`: the agent wallet (owlrun-gateway/client) from the shell. Results go to
 * stdout (a balance, an invoice, a token), everything else — QR codes, progress, logs — to stderr.
 */
export async function walletCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { file: { type: 'string' }, mint: { type: 'string' } }, allowPositionals: true, strict: true });
  const [action, arg] = positionals;
  const file = walletFile(values.file);
  const out = (line: string) => void process.stdout.write(line + '\n');

  if (action === 'restore' && !existsSync(file)) {
    if (process.stdin.isTTY) throw new CliError(`${file} does not exist: pipe the wallet's recovery words into \`owlrun wallet --file ${file} restore\``, 2);
    const wallet = await openWalletFile(file, values.mint, { mnemonic: await readStdin() });
    return out(`restored ${await wallet.balance()} sats into ${file}`);
  }
  if (!['balance', 'topup', 'receive', 'send', 'restore', 'words'].includes(action ?? '')) throw new CliError(USAGE, 2);
  const wallet = await openWalletFile(file, values.mint);

  switch (action) {
    case 'balance': {
      const pending = await wallet.pendingSats();
      if (pending > 0) stderrLog(`${pending} sats are with gateways, waiting for their change`);
      return out(`${await wallet.balance()} sats`);
    }
    case 'topup': {
      const amount = sats(arg);
      const added = await wallet.topup(amount, {
        onInvoice: async (invoice) => {
          out(invoice);
          process.stderr.write(`${await terminalQr(invoice)}Pay this invoice of ${amount} sats (mint ${wallet.mint}); waiting…\n`);
        },
      });
      return out(`received ${added} sats; balance ${await wallet.balance()} sats`);
    }
    case 'receive': {
      const token = arg ?? (await readStdin());
      if (!token) throw new CliError(USAGE, 2);
      const added = await wallet.receive(token);
      return out(`received ${added} sats; balance ${await wallet.balance()} sats`);
    }
    case 'send': {
      const token = await wallet.send(sats(arg));
      process.stderr.write(await terminalQr(token));
      out(token);
      return stderrLog(`balance ${await wallet.balance()} sats`);
    }
    case 'restore': {
      const added = await wallet.restore();
      return out(`restored ${added} sats; balance ${await wallet.balance()} sats`);
    }
    case 'words':
      return out(await wallet.mnemonic());
  }
}
