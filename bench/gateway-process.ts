// A gateway alone in its own process, as in production: its CPU time and memory are its own.
//
//   node --import tsx bench/gateway-process.ts '{"backends":[{"id":"b","kind":"vllm","url":"http://127.0.0.1:8000","models":["m"]}]}'
//
// The argument is a partial gateway config (JSON) merged over the test defaults: a free loopback
// port, an in-memory store, silent logs, no plugins. Prints the gateway URL on stdout; when
// started with an IPC channel it answers the bench/lib/protocol.ts messages. With log.access on,
// the access-log lines are written (the same synchronous writes as to stdout) to /dev/null: a
// run makes hundreds of thousands of them, which would bury the bench's progress on stderr.
import { openSync, writeSync } from 'node:fs';
import { createLogger } from '../src/log.js';
import { startGateway } from '../src/compose.js';
import { tuneV8ForServing } from '../src/v8-tuning.js';
import { testConfig } from '../test/helpers/gateway.js';
import { runChild } from './lib/child-main.js';

runChild('gateway', async () => {
  tuneV8ForServing(); // as `owlrun` does: the bench measures the process operators run
  const partial = JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>;
  const config = testConfig(partial);
  const devNull = openSync('/dev/null', 'w');
  const accessLog = { write: (lines: string) => writeSync(devNull, lines) };
  const gw = await startGateway(config, { log: createLogger(config.log.level), ...(config.log.access && config.log.level !== 'silent' && { accessLog }) });
  return {
    url: gw.url,
    info: { plugins: gw.runner.plugins.map((p) => p.name) },
    close: () => gw.shutdown(0),
  };
});
