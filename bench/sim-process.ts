// A backend simulator alone in its own process (test/helpers/simulators).
//
//   node --import tsx bench/sim-process.ts '{"kind":"vllm","tokens":200}'
//
// Prints the simulator URL on stdout; over IPC, `set-options` replaces its options (each request
// snapshots them when it arrives). Recorded requests are dropped every second so a long run does
// not grow the simulator's heap.
import { startSimulator, type SimOptions } from '../src/simulator/index.js';
import { runChild } from './lib/child-main.js';

runChild('simulator', async () => {
  const opts = JSON.parse(process.argv[2] ?? '{}') as SimOptions;
  const sim = await startSimulator(opts);
  const sweep = setInterval(() => sim.requests.splice(0), 1000);
  sweep.unref();
  return {
    url: sim.url,
    info: { model: sim.model, kind: sim.kind },
    setOptions: (o) => {
      sim.options = { ...sim.options, ...(o as Partial<SimOptions>), kind: sim.kind };
    },
    close: async () => {
      clearInterval(sweep);
      await sim.close();
    },
  };
});
