// Ollama: the route table and the probes (/, /api/version, /api/tags, /api/ps, /v1/models).
import { goLocalTime } from './format.js';
import {
  encoderJson,
  ginJson,
  nativeError,
  OLLAMA_VERSION,
  ollamaHasModel,
  ollamaName,
  v1Error,
} from './ollama-common.js';
import { ollamaChat, ollamaGenerate } from './ollama-native.js';
import { ollamaV1Chat, ollamaV1Completions } from './ollama-openai.js';
import type { Exchange, KindServer, Reply, Route } from './types.js';

const DIGEST = 'a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72';
const SIZE = 2019393189;

function details(): Record<string, unknown> {
  return {
    parent_model: '',
    format: 'gguf',
    family: 'llama',
    families: ['llama'],
    parameter_size: '3.2B',
    quantization_level: 'Q4_K_M',
  };
}

const UNHEALTHY = (): Reply => nativeError(503, 'service unavailable');

function root(ex: Exchange): Reply {
  if (ex.opts.healthy === false) return UNHEALTHY();
  return { status: 200, headers: [['Content-Type', 'text/plain; charset=utf-8']], body: 'Ollama is running' };
}

function version(ex: Exchange): Reply {
  if (ex.opts.healthy === false) return UNHEALTHY();
  return ginJson(200, { version: OLLAMA_VERSION });
}

function tags(ex: Exchange): Reply {
  if (ex.opts.healthy === false) return UNHEALTHY();
  const models = ex.models.map((m) => ({
    name: ollamaName(m),
    model: ollamaName(m),
    modified_at: goLocalTime(ex.startedAt),
    size: SIZE,
    digest: DIGEST,
    details: details(),
    capabilities: ['completion', 'tools'],
  }));
  return ginJson(200, { models });
}

function ps(ex: Exchange): Reply {
  if (ex.opts.healthy === false) return UNHEALTHY();
  const models = (ex.opts.loadedModels ?? ex.models).map((m) => ({
    name: ollamaName(m),
    model: ollamaName(m),
    size: 3342503936,
    digest: DIGEST,
    details: details(),
    expires_at: goLocalTime(ex.startedAt + 3600),
    size_vram: 3342503936,
    context_length: ex.opts.contextLength ?? 32768,
  }));
  return ginJson(200, { models });
}

function card(ex: Exchange, m: string): Record<string, unknown> {
  return { id: ollamaName(m), object: 'model', created: ex.startedAt, owned_by: 'library' };
}

function v1Models(ex: Exchange): Reply {
  if (ex.opts.healthy === false) return v1Error(503, 'service unavailable');
  return encoderJson(200, { object: 'list', data: ex.models.map((m) => card(ex, m)) });
}

function v1Model(ex: Exchange): Reply {
  const id = decodeURIComponent(ex.path.slice('/v1/models/'.length));
  if (!ollamaHasModel(ex, id)) return v1Error(404, `model '${id}' not found`);
  return encoderJson(200, card(ex, id));
}

const probe = (f: (ex: Exchange) => Reply): Route => ({
  inference: false,
  handle: (ex) => ex.wire.send(f(ex)),
});
const infer = (f: (ex: Exchange) => Promise<void>): Route => ({ inference: true, handle: f });

const GET_ROUTES: Record<string, Route> = {
  '/': probe(root),
  '/api/version': probe(version),
  '/api/tags': probe(tags),
  '/api/ps': probe(ps),
  '/v1/models': probe(v1Models),
};

const POST_ROUTES: Record<string, Route> = {
  '/api/chat': infer(ollamaChat),
  '/api/generate': infer(ollamaGenerate),
  '/v1/chat/completions': infer(ollamaV1Chat),
  '/v1/completions': infer(ollamaV1Completions),
};

export const ollamaServer: KindServer = {
  route(method, path) {
    if (method === 'POST') return POST_ROUTES[path];
    if (method === 'GET' || method === 'HEAD') {
      if (method === 'GET' && path.startsWith('/v1/models/')) return probe(v1Model);
      return GET_ROUTES[path];
    }
    return undefined;
  },
  // gin's default 404 (no route): plain text.
  notFound: () => ({ status: 404, headers: [['Content-Type', 'text/plain']], body: '404 page not found' }),
};
