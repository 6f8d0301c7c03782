import { createRequire } from 'node:module';

type CountTokens = (text: string) => number;
let countTokens: CountTokens | undefined;

/**
 * Loads the o200k tokenizer (~20 MB of heap, ~50 MB of RSS while its 4 MB source compiles,
 * ~115 ms) at its first use, so a gateway that counts no tokens (plugins: []) never carries it.
 * Plugins that count call it when they are created, so no request waits for the load.
 */
export function loadTokenizer(): CountTokens {
  countTokens ??= (createRequire(import.meta.url)('gpt-tokenizer') as { countTokens: CountTokens }).countTokens;
  return countTokens;
}

// Token estimates with an o200k tokenizer, used when a backend reports no usage and to size a
// request's budget before it runs. Estimates err on the high side for prompts (chat templates
// add tokens per message) and are marked `estimated` wherever they are billed.

/** Tokens a chat template adds around each message and once per conversation (typical llama/qwen). */
const PER_MESSAGE = 4;
const PER_CONVERSATION = 3;

export function countTextTokens(text: string): number {
  return text.length === 0 ? 0 : loadTokenizer()(text);
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((part) => (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string' ? (part as { text: string }).text : '')).join('\n');
  return '';
}

/** An upper-leaning estimate of the prompt tokens of any of the four request shapes. */
export function estimatePromptTokens(body: Record<string, unknown>): number {
  let tokens = 0;
  if (Array.isArray(body.messages)) {
    tokens += PER_CONVERSATION;
    for (const m of body.messages as unknown[]) {
      if (!m || typeof m !== 'object') continue;
      tokens += PER_MESSAGE + countTextTokens(textOf((m as { content?: unknown }).content));
      const tools = (m as { tool_calls?: unknown }).tool_calls;
      if (tools) tokens += countTextTokens(JSON.stringify(tools));
    }
  }
  const prompt = body.prompt;
  if (typeof prompt === 'string') tokens += countTextTokens(prompt);
  else if (Array.isArray(prompt)) tokens += prompt.reduce<number>((n, p) => n + (typeof p === 'string' ? countTextTokens(p) : 1), 0);
  if (typeof body.system === 'string') tokens += PER_MESSAGE + countTextTokens(body.system);
  if (body.tools) tokens += countTextTokens(JSON.stringify(body.tools));
  return Math.max(1, tokens);
}
