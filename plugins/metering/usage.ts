import { countTextTokens } from '../../src/billing/estimate.js';
import type { StreamEvent } from '../../src/stream/event.js';

// Reads token counts and delivered text out of every response shape the backends send
// (docs/backends.md, "Where the token counts are"): OpenAI `usage` (last non-zero wins: vLLM continuous usage is
// cumulative), llama.cpp `timings`, Ollama `prompt_eval_count`/`eval_count` (missing = 0).

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined);

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  source: 'backend' | 'estimated';
}

/**
 * An event is parsed on arrival only when it may carry counts, an error or the end of an Ollama
 * stream; in compact JSON these keys cannot appear inside a string value (its quotes would be
 * escaped). Plain content chunks are counted unread, and read only if the backend never
 * reports usage: JSON.parse per token was the metering's largest cost.
 */
const PARSE_MARKERS = /"(?:usage|timings|error|prompt_eval_count|eval_count)"|"done": ?true/;
/** A key whose non-empty string value is model output (compact JSON, or with one space), or tool calls. */
const OUTPUT = /"(?:content|text|reasoning_content|reasoning|thinking|response)": ?"[^"]|"tool_calls": ?\[\{/;

/**
 * Whether a chunk carries output, by scanning, not parsing: a role chunk (`"content":""` or null)
 * or a finish chunk (`"delta":{}`) does not. A chunk this misses is still read for the
 * estimate at the end; it only escapes the running count.
 */
export function hasOutput(d: string): boolean {
  return OUTPUT.test(d);
}

/** Content kept unread for an estimate; past this, further events count one token each. */
const MAX_UNREAD_BYTES = 8 * 1024 * 1024;

export class UsageCounter {
  /** Events that carried output (text, reasoning or tool calls): a lower bound of completion tokens. */
  outputEvents = 0;
  /** The backend sent an in-stream error event (vLLM/llama.cpp `{"error":…}`, Ollama's error line). */
  sawError = false;
  private reportedPrompt?: number;
  private reportedCompletion?: number;
  private readonly text: string[] = [];
  private timingsPrompt?: number;
  private timingsCompletion?: number;
  /** Output events counted but not read yet. */
  private unreadEvents = 0;
  private readonly unread: string[] = [];
  private unreadBytes = 0;
  private unreadDropped = 0;
  /** Output events past MAX_UNREAD_BYTES, never read: their text is not kept. */
  private droppedEvents = 0;
  private textTokens?: { parts: number; tokens: number };

  /** Completion tokens delivered so far, as best known now (for budget cuts and the journal). */
  get completionSoFar(): number {
    return Math.max(this.outputSoFar, this.reportedCompletion ?? 0);
  }

  /** Events that carried output so far, whatever the backend reports (an untrusted node's progress). */
  get outputSoFar(): number {
    return this.outputEvents + this.unreadEvents;
  }

  /** What the backend itself reported (usage, eval counts or timings); undefined where it said nothing. */
  get reported(): { prompt?: number; completion?: number } {
    return { prompt: this.reportedPrompt ?? this.timingsPrompt, completion: this.reportedCompletion ?? this.timingsCompletion };
  }

  /**
   * The gateway's own count of the output: its tokenizer over the text (reading now the events
   * counted unread), plus one token per event past the unread limit. Costly: call at settlement.
   */
  ownCompletionTokens(): number {
    this.readUnread();
    return this.countText() + this.droppedEvents;
  }

  private countText(): number {
    if (this.textTokens?.parts !== this.text.length) this.textTokens = { parts: this.text.length, tokens: countTextTokens(this.text.join('')) };
    return this.textTokens.tokens;
  }

  /** Counts one event; returns its JSON when it was parsed (it may carry counts), else undefined. */
  observeEvent(ev: StreamEvent): unknown {
    const data = ev.data;
    if (data === undefined || (ev.terminal && ev.format === 'sse')) return undefined;
    if (ev.format !== 'sse' || PARSE_MARKERS.test(data)) {
      const json = ev.json();
      this.observe(json);
      return json;
    }
    if (!hasOutput(data)) return undefined;
    this.unreadEvents++;
    if (this.unreadBytes < MAX_UNREAD_BYTES) {
      this.unread.push(data);
      this.unreadBytes += data.length;
    } else {
      this.unreadDropped++;
      this.droppedEvents++;
    }
    return undefined;
  }

  /** Reads the events counted unread (for an estimate), once. */
  private readUnread(): void {
    for (const data of this.unread.splice(0)) {
      try {
        this.observe(JSON.parse(data));
      } catch {
        /* not JSON: no text */
      }
    }
    this.outputEvents += this.unreadDropped;
    this.unreadEvents = 0;
    this.unreadDropped = 0;
  }

  /** True when the event is the usage-only chunk of an OpenAI stream (`choices: []` + usage). */
  static isUsageChunk(json: unknown): boolean {
    return isObj(json) && Array.isArray(json.choices) && json.choices.length === 0 && isObj(json.usage);
  }

  observe(json: unknown): void {
    if (!isObj(json)) return;
    if ('error' in json) {
      if (json.error !== null && json.error !== undefined) this.sawError = true;
      return;
    }
    this.readCounts(json);
    let out = '';
    if (Array.isArray(json.choices)) {
      for (const c of json.choices) {
        if (!isObj(c)) continue;
        out += textOf(c.delta) + textOf(c.message);
        if (typeof c.text === 'string') out += c.text;
      }
    }
    out += textOf(json.message);
    if (typeof json.response === 'string') out += json.response;
    if (typeof json.thinking === 'string') out += json.thinking;
    if (out.length > 0) {
      this.outputEvents++;
      this.text.push(out);
    }
  }

  private readCounts(json: Obj): void {
    const usage = json.usage;
    if (isObj(usage)) {
      const p = num(usage.prompt_tokens);
      const c = num(usage.completion_tokens);
      const total = num(usage.total_tokens) ?? (p ?? 0) + (c ?? 0);
      if (total > 0) {
        if (p !== undefined) this.reportedPrompt = p;
        if (c !== undefined) this.reportedCompletion = c;
        return;
      }
    }
    if (json.done === true) {
      // Ollama native final line. Ollama omits zero counts, so a missing one is estimated.
      this.reportedPrompt = num(json.prompt_eval_count) ?? this.reportedPrompt;
      this.reportedCompletion = num(json.eval_count) ?? this.reportedCompletion;
      return;
    }
    const t = json.timings;
    if (isObj(t) && this.reportedCompletion === undefined) {
      const predicted = num(t.predicted_n);
      if (predicted !== undefined) this.timingsCompletion = predicted;
      const prompt = (num(t.prompt_n) ?? 0) + (num(t.cache_n) ?? 0);
      if (prompt > 0) this.timingsPrompt = prompt;
    }
  }

  /** Final counts: the backend's own when it reported them, else estimated (never 0 for delivered output). */
  result(promptEstimate: number): Usage {
    const prompt = this.reportedPrompt ?? this.timingsPrompt;
    const completion = this.reportedCompletion ?? this.timingsCompletion;
    if (prompt !== undefined && completion !== undefined && completion > 0) {
      return { promptTokens: prompt, completionTokens: completion, source: 'backend' };
    }
    this.readUnread();
    if (prompt !== undefined && completion !== undefined && this.outputEvents === 0) {
      return { promptTokens: prompt, completionTokens: completion, source: 'backend' };
    }
    const estimated = this.text.length > 0 ? Math.max(this.outputEvents, this.countText()) : 0;
    return {
      promptTokens: prompt ?? promptEstimate,
      completionTokens: completion !== undefined && completion > 0 ? completion : estimated,
      source: 'estimated',
    };
  }
}

function textOf(v: unknown): string {
  if (!isObj(v)) return '';
  let s = '';
  if (typeof v.content === 'string') s += v.content;
  if (typeof v.reasoning_content === 'string') s += v.reasoning_content;
  if (typeof v.reasoning === 'string') s += v.reasoning;
  if (typeof v.thinking === 'string') s += v.thinking;
  if (Array.isArray(v.tool_calls) && v.tool_calls.length > 0) s += JSON.stringify(v.tool_calls);
  return s;
}
