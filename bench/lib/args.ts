// Command-line options of the proxy-overhead benchmark.
import { parseArgs } from 'node:util';
import type { SimKind } from '../../src/simulator/index.js';

export interface BenchArgs {
  kind: SimKind;
  plugins: string[];
  connections: number;
  /** Measured seconds per run (each round runs direct and gateway once). */
  durationS: number;
  warmupS: number;
  rewarmS: number;
  rounds: number;
  streamTokens: number;
  nonStreamTokens: number;
  ttftRequests: number;
  ttftTokenDelayMs: number;
  pin: boolean;
  gwCpuProf?: string;
  logLevel: string;
  /** Gateway store URL; undefined = the test default (in-memory SQLite). */
  store?: string;
  /** 'js': children run compiled JS (as in production); 'tsx': children run the .ts under tsx. */
  runtime: 'js' | 'tsx';
  /** Scheduling priority (nice value, e.g. -5) for the benchmark's processes; undefined = unchanged. */
  nice?: number;
  /** A tree compiled earlier (lib/compile.ts layout) to run the children from, e.g. to A/B a patch. */
  jsRoot?: string;
  /** A compiled tree whose gateway runs as one more side ("before"), in the same run, same backend. */
  before?: string;
  /** One more side: this gateway with log.access false. */
  accessLogOff: boolean;
  only: Set<'streams' | 'ttft' | 'rps' | 'burst'>;
  /** Streams in the burst runs (default 96). */
  burst: number;
  /** Paid mode (bench/paid-overhead.ts): free vs paid streams, mint calls per job. */
  paid: boolean;
  /** Paid mode: sats per pre-minted token. */
  tokenSats: number;
  /** Paid mode: tokens minted concurrently before the timed part. */
  mintParallel: number;
  /** Paid mode: paced requests per target before the measured TTFT series (not counted). */
  ttftWarmup: number;
  /** Paid mode: idle ms after each TTFT request. */
  gapMs: number;
}

export const USAGE = `usage: npm run bench -- [options]
  --kind K             backend simulator kind: vllm (default), openai, llamacpp (SSE), ollama (NDJSON /api/chat)
  --plugins a,b        gateway plugins (default: none = plain proxy, full event parser in the path)
  --connections N      concurrent clients for the throughput runs (default 32)
  --duration S         measured seconds per run (default 1.5)
  --warmup S           warm-up seconds before the first run of each metric (default 1.5)
  --rewarm S           warm-up seconds before the later runs (default 0.3)
  --rounds N           direct/gateway pairs per throughput metric, order alternating (default 8)
  --stream-tokens N    tokens per stream in the streams/s run (default 200)
  --ttft-requests N    paced requests per side for TTFT (default 200)
  --no-pin             do not pin processes to CPUs with taskset
  --nice=N             run client, simulator and gateway at nice N (e.g. --nice=-5, needs root): on a
                       shared machine, other work then disturbs the numbers less (and gets less CPU)
  --gw-cpu-prof DIR    run the gateway and the bare proxy children with node --cpu-prof, profiles written to DIR
  --log-level L        gateway log level, logs go to stderr (default warn)
  --store URL          gateway store (default sqlite::memory:; production default is a file,
                       e.g. --store sqlite:/tmp/owlrun-bench.db)
  --tsx                run the gateway and simulator children under tsx instead of compiled JS
  --js-root DIR        run the children from a tree compiled earlier (bench/compile-tree.ts), e.g. a patched copy
  --before DIR         one more side: the gateway of a tree compiled earlier (e.g. from the commit before a
                       change: bench/compile-tree.ts in a checkout of it), same backend, same run, same CPU
  --access-log-off     one more side: this gateway with log.access false (the access log's share)
  --only a,b           run only some of: streams, ttft, rps, burst
  --burst N            streams sent at once in the burst runs (default 96): one node with the kind's
                       default maxConcurrent, and one with maxConcurrent N/3 (the queue's waits)
  non-streaming req/s is driven by wrk when installed (apt-get install wrk), pinned with the client

paid mode (also: node --import tsx bench/paid-overhead.ts [options]):
  --paid               a dev mint (own process), a plain gateway [], a free gateway with --plugins
                       (default metering,change) and a paid gateway [auth, payment, metering, change]:
                       TTFT of free vs paid paced streams with the mint's own swap time subtracted,
                       mint calls per paid job, streams/s of the free gateway with --plugins vs direct
  --ttft-requests N    paced requests per target (paid mode default 60; one pre-minted token each)
  --ttft-warmup N      paid mode: warm-up requests per target before the series (default 10)
  --token-sats N       paid mode: sats per pre-minted token (default 64)
  --mint-parallel N    paid mode: tokens minted concurrently before the timed part (default 8)
  --gap-ms N           paid mode: idle ms after each TTFT request, so the paid gateway's background
                       work (unblinding, blinding pool refill) does not land on the next request (default 50)
  --only a,b           paid mode: ttft, streams, burst (16 paid streams at once)
`;

export function int(name: string, v: string | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min}`);
  return n;
}

export function parseBenchArgs(argv: string[]): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      kind: { type: 'string' },
      plugins: { type: 'string' },
      connections: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rewarm: { type: 'string' },
      rounds: { type: 'string' },
      'stream-tokens': { type: 'string' },
      'ttft-requests': { type: 'string' },
      'no-pin': { type: 'boolean' },
      nice: { type: 'string' },
      'gw-cpu-prof': { type: 'string' },
      'log-level': { type: 'string' },
      store: { type: 'string' },
      tsx: { type: 'boolean' },
      'js-root': { type: 'string' },
      before: { type: 'string' },
      'access-log-off': { type: 'boolean' },
      only: { type: 'string' },
      paid: { type: 'boolean' },
      'token-sats': { type: 'string' },
      'mint-parallel': { type: 'string' },
      'ttft-warmup': { type: 'string' },
      'gap-ms': { type: 'string' },
      burst: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const kind = (values.kind ?? 'vllm') as SimKind;
  if (!['vllm', 'openai', 'llamacpp', 'ollama'].includes(kind)) throw new Error(`--kind: unknown kind "${kind}"`);
  const list = (s: string | undefined): string[] => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  const only = list(values.only);
  const paid = values.paid === true;
  if (paid && values.store !== undefined) throw new Error('--store: paid mode runs three gateways, each on its own in-memory store');
  const parts = paid ? ['streams', 'ttft', 'burst'] : ['streams', 'ttft', 'rps', 'burst'];
  for (const o of only) if (!parts.includes(o)) throw new Error(`--only: unknown part "${o}"`);
  return {
    kind,
    plugins: values.plugins === undefined && paid ? ['metering', 'change'] : list(values.plugins),
    connections: int('connections', values.connections, 32),
    durationS: int('duration', values.duration, 1.5, 0.5),
    warmupS: int('warmup', values.warmup, 1.5, 0),
    rewarmS: int('rewarm', values.rewarm, 0.3, 0),
    rounds: int('rounds', values.rounds, 8),
    streamTokens: int('stream-tokens', values['stream-tokens'], 200),
    nonStreamTokens: 16,
    ttftRequests: int('ttft-requests', values['ttft-requests'], paid ? 60 : 200),
    ttftTokenDelayMs: 20,
    pin: !values['no-pin'],
    nice: values.nice === undefined ? undefined : int('nice', values.nice, 0, -20),
    gwCpuProf: values['gw-cpu-prof'],
    logLevel: values['log-level'] ?? 'warn',
    store: values.store,
    runtime: values.tsx ? 'tsx' : 'js',
    jsRoot: values['js-root'],
    before: values.before,
    accessLogOff: values['access-log-off'] === true,
    only: new Set((only.length ? only : parts) as ('streams' | 'ttft' | 'rps' | 'burst')[]),
    burst: int('burst', values.burst, paid ? 16 : 96),
    paid,
    tokenSats: int('token-sats', values['token-sats'], 64),
    mintParallel: int('mint-parallel', values['mint-parallel'], 8),
    ttftWarmup: int('ttft-warmup', values['ttft-warmup'], 10, 0),
    gapMs: int('gap-ms', values['gap-ms'], 50, 0),
  };
}
