// Builds one OpenAI `chat.completion` object from the `chat.completion.chunk` events of a stream,
// for a client that asked for no stream from a backend that can only stream.

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

interface ToolCall {
  id?: string;
  type: string;
  function: { name: string; arguments: string };
}

interface Choice {
  role: string;
  content: string;
  reasoning?: string;
  toolCalls: Map<number, ToolCall>;
  finishReason: string | null;
  logprobs?: unknown;
}

export class ChatCompletionAssembler {
  private id = '';
  private model = '';
  private created = 0;
  private fingerprint?: unknown;
  private usage?: unknown;
  private readonly choices = new Map<number, Choice>();

  /** One chunk's parsed data (anything that is not a chunk object is ignored). */
  add(chunk: unknown): void {
    if (!isObj(chunk)) return;
    if (typeof chunk.id === 'string' && !this.id) this.id = chunk.id;
    if (typeof chunk.model === 'string' && !this.model) this.model = chunk.model;
    if (typeof chunk.created === 'number' && !this.created) this.created = chunk.created;
    if (chunk.system_fingerprint !== undefined) this.fingerprint = chunk.system_fingerprint;
    if (isObj(chunk.usage)) this.usage = chunk.usage;
    if (!Array.isArray(chunk.choices)) return;
    for (const c of chunk.choices) {
      if (!isObj(c)) continue;
      const index = typeof c.index === 'number' ? c.index : 0;
      let choice = this.choices.get(index);
      if (!choice) this.choices.set(index, (choice = { role: 'assistant', content: '', toolCalls: new Map(), finishReason: null }));
      if (typeof c.finish_reason === 'string') choice.finishReason = c.finish_reason;
      if (c.logprobs !== undefined && c.logprobs !== null) choice.logprobs = c.logprobs;
      const delta = c.delta;
      if (!isObj(delta)) continue;
      if (typeof delta.role === 'string') choice.role = delta.role;
      if (typeof delta.content === 'string') choice.content += delta.content;
      const reasoning = typeof delta.reasoning_content === 'string' ? delta.reasoning_content : typeof delta.reasoning === 'string' ? delta.reasoning : undefined;
      if (reasoning !== undefined) choice.reasoning = (choice.reasoning ?? '') + reasoning;
      if (Array.isArray(delta.tool_calls)) for (const t of delta.tool_calls) if (isObj(t)) addToolCall(choice, t);
    }
  }

  /** The whole completion; `cut`: the gateway stopped the stream (budget), so it ends by length. */
  result(fallbackModel: string, cut: boolean): Obj {
    const choices = [...this.choices.entries()].sort(([a], [b]) => a - b);
    if (choices.length === 0) choices.push([0, { role: 'assistant', content: '', toolCalls: new Map(), finishReason: null }]);
    return {
      id: this.id || 'chatcmpl-owlrun',
      object: 'chat.completion',
      created: this.created || Math.floor(Date.now() / 1000),
      model: this.model || fallbackModel,
      ...(this.fingerprint !== undefined ? { system_fingerprint: this.fingerprint } : {}),
      choices: choices.map(([index, c]) => ({
        index,
        message: {
          role: c.role,
          content: c.content,
          ...(c.reasoning !== undefined ? { reasoning_content: c.reasoning } : {}),
          ...(c.toolCalls.size > 0 ? { tool_calls: [...c.toolCalls.entries()].sort(([a], [b]) => a - b).map(([, t]) => t) } : {}),
        },
        ...(c.logprobs !== undefined ? { logprobs: c.logprobs } : {}),
        finish_reason: cut ? 'length' : (c.finishReason ?? 'stop'),
      })),
      ...(this.usage !== undefined ? { usage: this.usage } : {}),
    };
  }
}

function addToolCall(choice: Choice, t: Obj): void {
  const index = typeof t.index === 'number' ? t.index : choice.toolCalls.size;
  let call = choice.toolCalls.get(index);
  if (!call) choice.toolCalls.set(index, (call = { type: 'function', function: { name: '', arguments: '' } }));
  if (typeof t.id === 'string') call.id = t.id;
  if (typeof t.type === 'string') call.type = t.type;
  const fn = t.function;
  if (isObj(fn)) {
    if (typeof fn.name === 'string') call.function.name += fn.name;
    if (typeof fn.arguments === 'string') call.function.arguments += fn.arguments;
  }
}
