// The Owlrun agent's built-in `--mock` Ollama (model "mock:latest") as the agent reads it: the
// SSE bytes its /v1/chat/completions writes (whatever the request says: stream:false and
// max_tokens are ignored), flush by flush, then cut the way the agent's 4096-byte reads cut
// them. Go's json.Marshal of a map sorts its keys; the bytes below follow.

export const MOCK_MODEL = 'mock:latest';
export const MOCK_WORDS = ['This ', 'is ', 'a ', 'mock ', 'response ', 'from ', 'Owlrun ', 'debug ', 'mode.'];
/** The agent reads its Ollama response into a 4096-byte buffer and sends each read as one proxy_chunk. */
export const AGENT_READ_BYTES = 4096;

export interface MockAnswer {
  /** The words streamed, one SSE event each (default: the agent's nine). */
  words?: readonly string[];
  /** Usage the final chunk reports (default prompt 10, completion = number of words). */
  usage?: { prompt: number; completion: number };
  /** Milliseconds between words (the agent's mock: 50); 0 writes everything in ONE flush. */
  wordDelayMs?: number;
}

/** A write of the mock followed by a flush, and the pause before the next one. */
export interface Flush {
  bytes: Buffer;
  delayAfterMs: number;
}

export function mockFlushes(a: MockAnswer = {}): Flush[] {
  const words = a.words ?? MOCK_WORDS;
  const delay = a.wordDelayMs ?? 50;
  const usage = a.usage ?? { prompt: 10, completion: words.length };
  const events = words.map((word, i) =>
    `data: ${JSON.stringify({ choices: [{ delta: { content: word }, index: 0 }], id: `chatcmpl-mock-${i}`, model: MOCK_MODEL, object: 'chat.completion.chunk' })}\n\n`,
  );
  const final = JSON.stringify({
    choices: [{ delta: {}, finish_reason: 'stop', index: 0 }],
    id: 'chatcmpl-mock-final',
    model: MOCK_MODEL,
    object: 'chat.completion.chunk',
    usage: { completion_tokens: usage.completion, prompt_tokens: usage.prompt, total_tokens: usage.prompt + usage.completion },
  });
  const tail = `data: ${final}\n\ndata: [DONE]\n\n`;
  if (delay === 0) return [{ bytes: Buffer.from(events.join('') + tail), delayAfterMs: 0 }];
  return [...events.map((e) => ({ bytes: Buffer.from(e), delayAfterMs: delay })), { bytes: Buffer.from(tail), delayAfterMs: 0 }];
}

/** The reads the agent makes of one flush: at most AGENT_READ_BYTES each, cut anywhere (mid-event, mid-character). */
export function agentReads(flush: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < flush.length; i += AGENT_READ_BYTES) out.push(flush.subarray(i, i + AGENT_READ_BYTES));
  return out;
}
