import type { Logger } from 'pino';
import type { BackendConfig } from './config/types.js';
import { startSimulator } from './simulator/index.js';

export const DEMO_MODEL = 'owlrun-simulator';

/**
 * `npm run demo`: a bundled Ollama-compatible simulator as the only backend, so the whole flow
 * (top up, prompt, change, withdraw) works on a machine with no inference server.
 */
export async function startDemoBackend(log: Logger): Promise<BackendConfig> {
  const sim = await startSimulator({ kind: 'ollama', models: [DEMO_MODEL], tokens: 48, tokenDelayMs: 25 });
  log.warn({ url: sim.url, model: DEMO_MODEL }, 'demo: answers come from a backend SIMULATOR, not a language model');
  return { id: 'demo-simulator', kind: 'ollama', url: sim.url, provider: 'alice', models: [DEMO_MODEL], maxConcurrent: 16, trustUsage: true };
}
