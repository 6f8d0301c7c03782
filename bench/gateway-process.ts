// A gateway alone in its own process, as in production: its CPU time and memory are its own.
//
//   node --import tsx bench/gateway-process.ts '{"backends":[{"id":"b","kind":"vllm","url":"http://127.0.0.1:8000","models":["m"]}]}'
//
// The argument is a partial gateway config (JSON) merged over the test defaults: a free loopback
// port, an in-memory store, silent logs, no plugins. Prints the gateway URL on stdout; when
// started with an IPC channel it answers the bench/lib/protocol.ts messages.
import { createLogger } from '../src/log.js';
import { startGateway } from '../src/compose.js';
import { tuneV8ForServing } from '../src/v8-tuning.js';
import { testConfig } from '../test/helpers/gateway.js';
import { runChild } from './lib/child-main.js';

runChild('gateway', async () => {
  tuneV8ForServing(); // as `owlrun` does: the bench measures the process operators run
  const partial = JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>;
  const config = testConfig(partial);
  const gw = await startGateway(config, { log: createLogger(config.log.level) });
  return {
    url: gw.url,
    info: { plugins: gw.runner.plugins.map((p) => p.name) },
    close: () => gw.shutdown(0),
  };
});
