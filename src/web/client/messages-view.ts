// The conversation on the page: a prompt and its answer with the cost line under it, kept in this
// browser (conversation.ts) and shown again after a reload.
import { el } from './dom.js';
import { saveExchange, type Exchange } from './conversation.js';

const conversation = () => el('conversation');

export interface AnswerView {
  item: HTMLLIElement;
  text: HTMLElement;
  meta: HTMLElement;
}

export function addMessage(role: 'user' | 'assistant', text: string): AnswerView {
  const item = document.createElement('li');
  item.className = `msg ${role}`;
  const body = document.createElement('span');
  body.className = 'text';
  body.textContent = text;
  const meta = document.createElement('span');
  meta.className = 'meta';
  item.append(body, meta);
  if (role === 'assistant') {
    item.dataset.testid = 'answer';
    item.dataset.state = 'streaming';
    meta.dataset.testid = 'answer-cost';
  }
  conversation().append(item);
  item.scrollIntoView({ block: 'nearest' });
  return { item, text: body, meta };
}

/** Keeps a finished exchange in this browser's conversation. */
export function keepExchange(model: string, prompt: string, answer: AnswerView): void {
  const cost = answer.item.dataset.costSats;
  saveExchange({
    model,
    prompt,
    answer: answer.text.textContent ?? '',
    meta: answer.meta.textContent ?? '',
    state: answer.item.dataset.state === 'done' ? 'done' : 'failed',
    ...(cost !== undefined ? { costSats: Number(cost) } : {}),
  });
}

/** Shows the kept conversation (after a reload). */
export function showExchanges(exchanges: Exchange[]): void {
  for (const e of exchanges) {
    addMessage('user', e.prompt);
    const a = addMessage('assistant', e.answer);
    a.meta.textContent = e.meta;
    a.item.dataset.state = e.state;
    if (e.state === 'failed') a.item.classList.add('failed');
    if (e.costSats !== undefined) a.item.dataset.costSats = String(e.costSats);
  }
}

