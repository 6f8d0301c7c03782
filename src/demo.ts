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

/**
 * `npm run demo`, the marketplace side: a simulated Owlrun node agent (the agent's `--mock`
 * model "mock:latest") joins the gateway over its WebSocket like a GPU owner's would, and the
 * gateway's log shows what it earns (its heartbeat_ack) and its automatic payouts.
 */
export async function startDemoAgent(gatewayUrl: string, log: Logger): Promise<{ stop(): Promise<void> }> {
  const { OwlrunAgent } = await import('./simulator/owlrun-agent.js');
  let earned = 0;
  const agent = new OwlrunAgent({
    gateway: gatewayUrl.replace('//0.0.0.0', '//127.0.0.1').replace('//[::]', '//127.0.0.1'),
    heartbeatMs: 5000,
    onAck: (stats) => {
      if (stats.earned_total_sats === earned) return;
      earned = stats.earned_total_sats;
      log.info({ model: 'mock:latest', earned_sats: earned / 1000, balance_sats: stats.balance_sats / 1000 }, 'demo: the simulated marketplace node earned');
    },
    onClaim: (sats) => log.info({ sats }, 'demo: the simulated marketplace node withdrew its balance as ecash (padded cashuA)'),
  });
  await agent.start();
  log.warn({ model: 'mock:latest' }, 'demo: a SIMULATED Owlrun node agent joined the marketplace (model "mock:latest")');
  return { stop: () => agent.stop() };
}
