import { parseArgs } from 'node:util';
import { ChangeFilter } from '../client/change-filter.js';
import type { Settlement } from '../client/index.js';
import { CliError } from './common.js';
import { openWalletFile, readStdin, stderrLog, walletFile } from './wallet-file.js';

const USAGE = `usage: owlrun ask [--file F] [--mint URL] [--gateway URL] [--model M] [--max-sats N] [--max-tokens N] "prompt"
  Streams the answer of a gateway to stdout, paid from the wallet file; then prints on stderr what
  it cost and the balance left. The prompt is read from stdin when not given.
  --gateway URL   default $OWLRUN_GATEWAY, else http://127.0.0.1:8080
  --model M       default the first model the gateway lists
  --max-sats N    pay at most N sats (the answer is cut to what they buy)
  --max-tokens N  the longest answer to pay for (default 1024 tokens)`;

function positive(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new CliError(`--${name}: a whole number above 0\n${USAGE}`, 2);
  return n;
}

async function firstModel(gateway: string): Promise<string> {
  const res = await fetch(`${gateway}/v1/models`);
  const list = res.ok ? ((await res.json()) as { data?: { id: string }[] }) : undefined;
  const id = list?.data?.[0]?.id;
  if (!id) throw new CliError(`${gateway} lists no model (GET /v1/models answered ${res.status}); name one with --model`);
  return id;
}

/** The text an OpenAI chat stream event adds. */
function deltaOf(data: string): string {
  if (data === '[DONE]') return '';
  try {
    const v = JSON.parse(data) as { choices?: { delta?: { content?: unknown } }[] };
    const c = v.choices?.[0]?.delta?.content;
    return typeof c === 'string' ? c : '';
  } catch {
    return '';
  }
}

/** `owlrun ask "prompt"`: one paid, streamed chat completion from the shell. */
export async function askCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { file: { type: 'string' }, mint: { type: 'string' }, gateway: { type: 'string' }, model: { type: 'string' }, 'max-sats': { type: 'string' }, 'max-tokens': { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const prompt = positionals.join(' ').trim() || (process.stdin.isTTY ? '' : await readStdin());
  if (!prompt) throw new CliError(USAGE, 2);
  const maxSats = positive('max-sats', values['max-sats']);
  const maxTokens = positive('max-tokens', values['max-tokens']);
  const gateway = (values.gateway ?? process.env.OWLRUN_GATEWAY ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const wallet = await openWalletFile(walletFile(values.file), values.mint, maxSats !== undefined ? { maxSatsPerRequest: maxSats } : {});
  const model = values.model ?? (await firstModel(gateway));
  let settled: Settlement | undefined;
  wallet.onSettled((s) => (settled = s));

  const res = await wallet.fetch(`${gateway}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: prompt }], ...(maxTokens ? { max_tokens: maxTokens } : {}) }),
  });
  if (!res.ok || !res.body) {
    const body = (await res.json().catch(() => ({}))) as { error?: { message?: string; code?: string } };
    await wallet.balance();
    throw new CliError(`${gateway} answered ${res.status}: ${body.error?.message ?? res.statusText}${body.error?.code ? ` (${body.error.code})` : ''}`);
  }
  // The wallet already kept the change event back: every event here is the backend's.
  const events = new ChangeFilter('sse');
  const decoder = new TextDecoder();
  const write = (ev: Uint8Array) => {
    for (const line of decoder.decode(ev).split(/\r\n|\r|\n/)) if (line.startsWith('data:')) process.stdout.write(deltaOf(line.slice(5).trim()));
  };
  for await (const chunk of res.body) for (const ev of events.push(chunk)) write(ev);
  for (const ev of events.flush()) write(ev);
  process.stdout.write('\n');
  const balance = await wallet.balance();
  const cost = settled?.costSats !== undefined ? `${settled.costSats} sats` : 'unknown (the change is still at the gateway)';
  stderrLog(`${model}: cost ${cost}, paid ${settled?.paidSats ?? '?'}, change ${settled?.changeSats ?? 0}; balance ${balance} sats`);
}
