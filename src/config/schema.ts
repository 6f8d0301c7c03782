import type { Spec } from './spec.js';

// The core's configuration keys, with defaults. Plugins own their sections (their manifest's
// `config`); the composition root merges them into one schema (docs/public-interface.md lists all).

export const keyEntry = {
  kind: 'object',
  description: 'a key: plain (usually "${ENV_VAR}") or its sha256 hex',
  fields: {
    id: { kind: 'string', description: 'name of the key holder (logged, never the key)' },
    key: { kind: 'string', description: 'the key itself', optional: true },
    sha256: { kind: 'string', description: 'sha256 hex of the key', optional: true, pattern: /^[0-9a-fA-F]{64}$/ },
  },
} as const satisfies Spec;

const price = {
  kind: 'object',
  description: 'USD per million tokens',
  fields: {
    per_m_input_usd: { kind: 'number', description: 'USD per 1M prompt tokens', min: 0 },
    per_m_output_usd: { kind: 'number', description: 'USD per 1M completion tokens', min: 0 },
  },
} as const satisfies Spec;

/** The server software a backend runs (its wire formats: docs/backends.md). */
export const BACKEND_KINDS = ['ollama', 'vllm', 'llamacpp', 'openai'] as const;

/**
 * `maxConcurrent` when a backend leaves it out: what each server runs at once by default.
 * vLLM batches up to `--max-num-seqs` (256); llama.cpp server has `--parallel` slots (4 by default
 * in current builds); Ollama runs `OLLAMA_NUM_PARALLEL` per model (1–4 by default, queueing the
 * rest itself); an unknown OpenAI-compatible server gets a cautious 8.
 */
export const DEFAULT_MAX_CONCURRENT: Readonly<Record<(typeof BACKEND_KINDS)[number], number>> = { vllm: 256, llamacpp: 4, ollama: 4, openai: 8 };

export const configSpec = {
  kind: 'object',
  description: 'Owlrun gateway configuration',
  fields: {
    server: {
      kind: 'object',
      description: 'the HTTP listener',
      fields: {
        host: { kind: 'string', description: 'address to listen on', default: '127.0.0.1' },
        port: { kind: 'integer', description: 'port to listen on (0 = any free port)', default: 8080, min: 0, max: 65535 },
        bodyLimit: { kind: 'size', description: 'largest request body; beyond it 413', default: 1024 * 1024 },
        maxHeaderBytes: { kind: 'size', description: 'largest request header block; beyond it 431', default: 65536 },
        shutdownGraceSeconds: { kind: 'duration', description: 'on SIGTERM, how long running streams may finish', default: 30 },
        headersTimeoutMs: { kind: 'integer', description: 'a client must send its request headers within this; slower connections are closed', default: 10000, min: 100 },
        requestTimeoutMs: { kind: 'integer', description: 'a client must send its whole request (headers and body) within this (not the answer: streams may run longer)', default: 60000, min: 100 },
        maxConnectionsPerIp: { kind: 'integer', description: 'most open connections per client address (0 = no limit; behind a reverse proxy every client has its address)', default: 0, min: 0 },
      },
    },
    auth: {
      kind: 'object',
      description: 'API keys',
      fields: {
        required: { kind: 'boolean', description: 'true: every paid request also needs Authorization: Bearer KEY', default: false },
        apiKeys: { kind: 'array', description: 'accepted API keys', items: keyEntry },
      },
    },
    backends: {
      kind: 'array',
      description: 'inference servers',
      items: {
        kind: 'object',
        description: 'one inference server',
        fields: {
          id: { kind: 'string', description: 'unique name of the node' },
          kind: { kind: 'string', description: 'server software', enum: BACKEND_KINDS },
          url: { kind: 'string', description: 'base URL, e.g. http://127.0.0.1:11434', pattern: /^https?:\/\/[^\s]+$/ },
          provider: { kind: 'string', description: 'who earns the provider share (a providers[].id)', optional: true },
          models: { kind: 'array', description: 'served models; discovered from the backend when left out', items: { kind: 'string', description: 'model name' } },
          maxConcurrent: { kind: 'integer', description: 'most requests in flight on this node (default by kind: vllm 256, llamacpp 4, ollama 4, openai 8)', optional: true, min: 1 },
          apiKey: { kind: 'string', description: "the backend's own key, sent instead of the client's", optional: true },
          trustUsage: { kind: 'boolean', description: "bill the usage it reports (false: at most the gateway's own token count plus a tolerance)", default: true },
        },
      },
    },
    queue: {
      kind: 'object',
      description: 'requests that find every node for their model busy wait here (nothing is claimed while waiting)',
      fields: {
        maxWaitMs: { kind: 'integer', description: 'longest wait for a free node; then 503 backend_unavailable (0: refuse at once)', default: 30000, min: 0 },
        maxLength: { kind: 'integer', description: 'most requests waiting at once; beyond it 503 backend_unavailable', default: 1000, min: 0 },
      },
    },
    health: {
      kind: 'object',
      description: 'backend health checks',
      fields: {
        intervalSeconds: { kind: 'duration', description: 'time between health checks of each node', default: 10 },
        timeoutMs: { kind: 'integer', description: 'a health check slower than this fails', default: 3000, min: 1 },
      },
    },
    admin: {
      kind: 'object',
      description: 'the operator key for /admin/*',
      fields: {
        key: { kind: 'string', description: 'admin key (empty: admin endpoints disabled)', optional: true },
        sha256: { kind: 'string', description: 'sha256 hex of the admin key', optional: true, pattern: /^[0-9a-fA-F]{64}$/ },
      },
    },
    payment: {
      kind: 'object',
      description: 'Cashu payment',
      fields: {
        mints: { kind: 'array', description: 'trusted mint URLs', items: { kind: 'string', description: 'mint URL', pattern: /^https?:\/\/[^\s]+$/ } },
        minSatsPerJob: { kind: 'integer', description: 'the least a job costs', default: 2, min: 1 },
        receiptTtl: { kind: 'duration', description: 'how long change stays claimable by receipt', default: 7 * 86400 },
        mintCheckSeconds: { kind: 'duration', description: 'time between reachability checks of each trusted mint (GET /readyz, owlrun_mint_up)', default: 30 },
      },
    },
    pricing: {
      kind: 'object',
      description: 'prices and margins',
      fields: {
        margins: {
          kind: 'object',
          description: "the gateway's share of each job",
          fields: {
            inference: { kind: 'number', description: 'inference margin (fraction)', default: 0.09, min: 0, max: 0.5 },
            fx: { kind: 'number', description: 'exchange-rate margin (fraction)', default: 0.01, min: 0, max: 0.5 },
          },
        },
        models: { kind: 'record', description: 'price per model', values: price },
        default: {
          kind: 'object',
          description: 'price of models not listed in pricing.models',
          fields: {
            per_m_input_usd: { kind: 'number', description: 'USD per 1M prompt tokens', min: 0, default: 0.1 },
            per_m_output_usd: { kind: 'number', description: 'USD per 1M completion tokens', min: 0, default: 0.3 },
          },
        },
      },
    },
    oracle: {
      kind: 'object',
      description: 'BTC/USD rate',
      fields: {
        sources: {
          kind: 'array',
          description: 'price sources polled for the rate',
          items: {
            kind: 'object',
            description: 'one source',
            fields: {
              name: { kind: 'string', description: 'source name' },
              url: { kind: 'string', description: 'ticker URL' },
              path: { kind: 'string', description: 'dot path to the price in the JSON answer' },
              headers: { kind: 'record', description: 'extra request headers', values: { kind: 'string', description: 'value' } },
            },
          },
        },
        fixedRate: { kind: 'number', description: 'BTC/USD used until a source has answered', default: 100000, min: 1 },
        intervalSeconds: { kind: 'duration', description: 'time between polls', default: 300 },
        timeoutMs: { kind: 'integer', description: 'a source slower than this fails', default: 5000, min: 1 },
      },
    },
    store: {
      kind: 'object',
      description: 'where money and jobs are kept',
      fields: { url: { kind: 'string', description: 'sqlite:PATH or postgres://…', default: 'sqlite:data/owlrun.db' } },
    },
    devMint: {
      kind: 'object',
      description: 'the embedded development mint (fake Lightning, not real money)',
      fields: {
        enabled: { kind: 'boolean', description: 'start it', default: false },
        host: { kind: 'string', description: 'address to listen on', default: '127.0.0.1' },
        port: { kind: 'integer', description: 'port to listen on', default: 3338, min: 0, max: 65535 },
        inputFeePpk: { kind: 'integer', description: 'NUT-02 input fee per proof, parts per thousand', default: 0, min: 0 },
      },
    },
    metrics: {
      kind: 'object',
      description: 'Prometheus endpoint',
      fields: { key: { kind: 'string', description: 'when set, /metrics needs Authorization: Bearer KEY', optional: true } },
    },
    log: {
      kind: 'object',
      description: 'logging',
      fields: {
        level: { kind: 'string', description: 'pino level', default: 'info', enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] },
        format: { kind: 'string', description: 'json: one JSON object a line; pretty: readable lines; auto: pretty on a terminal, else json', default: 'auto', enum: ['auto', 'json', 'pretty'] },
        access: { kind: 'boolean', description: 'one access-log line per request on stdout (method, path, status, model, cost, duration, request id)', default: true },
      },
    },
    plugins: {
      kind: 'array',
      description: 'enabled plugins; [] = a plain proxy',
      items: { kind: 'string', description: 'plugin name' },
    },
  },
} as const satisfies Spec;
