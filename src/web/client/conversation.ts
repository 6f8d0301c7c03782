// The conversation, kept in this browser (localStorage) until "New chat": what was asked, what
// came back and its cost line. Only finished exchanges are sent back to the model as history.
import type { ChatMessage } from './budget.js';

const KEY = 'owlrun:conversation:v1';

export interface Exchange {
  model: string;
  prompt: string;
  answer: string;
  /** The cost line shown under the answer. */
  meta: string;
  state: 'done' | 'failed';
  costSats?: number;
}

export function loadConversation(): Exchange[] {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? '[]') as unknown;
    return Array.isArray(v) ? (v as Exchange[]) : [];
  } catch {
    return [];
  }
}

export function saveExchange(e: Exchange): void {
  localStorage.setItem(KEY, JSON.stringify([...loadConversation(), e]));
}

export function clearConversation(): void {
  localStorage.removeItem(KEY);
}

/** The messages a new prompt is sent after: the finished exchanges. */
export function historyOf(exchanges: Exchange[]): ChatMessage[] {
  return exchanges.filter((e) => e.state === 'done').flatMap((e): ChatMessage[] => [{ role: 'user', content: e.prompt }, { role: 'assistant', content: e.answer }]);
}
