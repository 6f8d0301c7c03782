// Deterministic generated text and simple token counts.
// Every word below is one token with its leading space in both cl100k_base and o200k_base, so a
// tokenizer estimate of the generated text equals the number of tokens the simulator reports.

const WORDS = [
  'alpha', 'delta', 'echo', 'golf', 'hotel', 'india', 'apple', 'river',
  'stone', 'cloud', 'green', 'light', 'house', 'water', 'music', 'paper',
  'table', 'garden', 'window', 'forest', 'silver', 'orange', 'little', 'simple',
  'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog', 'ocean',
] as const;

/** The text of content token i (0-based): one short word with a leading space. */
export function tokenText(i: number): string {
  return ' ' + (WORDS[i % WORDS.length] ?? 'alpha');
}

/** The whole text of n tokens. */
export function completionText(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += tokenText(i);
  return s;
}

/** A rough token count of a text: words and single punctuation marks. */
export function countTextTokens(text: string): number {
  return text.match(/\w+|[^\w\s]/g)?.length ?? 0;
}

function textsOf(value: unknown, out: string[]): void {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) textsOf(v, out);
  else if (typeof value === 'object' && value !== null) {
    const part = value as Record<string, unknown>;
    if (typeof part.text === 'string') out.push(part.text);
  }
}

/**
 * The prompt token count the simulators report by default: countTextTokens over every message
 * content (string or text parts), `prompt` (string or array) and `system`; at least 1.
 * No chat-template overhead is added.
 */
export function countPromptTokens(body: unknown): number {
  const texts: string[] = [];
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const b = body as Record<string, unknown>;
    if (Array.isArray(b.messages)) {
      for (const m of b.messages) {
        if (typeof m === 'object' && m !== null) textsOf((m as Record<string, unknown>).content, texts);
      }
    }
    textsOf(b.prompt, texts);
    if (typeof b.system === 'string') texts.push(b.system);
  } else if (typeof body === 'string') {
    texts.push(body);
  }
  let n = 0;
  for (const t of texts) n += countTextTokens(t);
  return Math.max(1, n);
}
