import type { IncomingMessage, ServerResponse } from 'node:http';
import { runJob, type JobDeps } from '../job/run.js';
import type { RouteKind } from '../pipeline/job.js';
import type { AccessNote } from './access-log.js';

/** The inference routes: path → the kind of request (the API dialect of its body and answer). */
export const INFERENCE_ROUTES: ReadonlyMap<string, RouteKind> = new Map<string, RouteKind>([
  ['/v1/chat/completions', 'openai_chat'],
  ['/v1/completions', 'openai_completions'],
  ['/api/chat', 'ollama_chat'],
  ['/api/generate', 'ollama_generate'],
]);

export interface InferenceDeps {
  jobs: JobDeps;
  /** True once shutdown began: new jobs get 503. */
  isDraining(): boolean;
}

const SHUTTING_DOWN = Buffer.from(
  JSON.stringify({ error: { message: 'the gateway is shutting down', type: 'service_unavailable', code: 'shutting_down' } }),
);

/**
 * Answers one inference request on the raw response; resolves, once the job settled, with what
 * its access-log line adds. Never rejects for a job's own failures (runJob answers them).
 * `headers`: what every answer carries besides its own (the request id and CORS headers, unless
 * the caller set them on `res` already); the job's plugins add theirs to this object.
 * `startedAt`: when the request arrived (performance.now()), if the caller timed it already.
 */
export function serveInference(route: RouteKind, req: IncomingMessage, res: ServerResponse, deps: InferenceDeps, headers: Record<string, string> = {}, startedAt?: number): Promise<AccessNote | undefined> {
  if (deps.isDraining()) {
    res.writeHead(503, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(SHUTTING_DOWN.length) });
    res.end(SHUTTING_DOWN);
    return Promise.resolve(undefined);
  }
  return runJob(route, req, res, deps.jobs, headers, startedAt);
}
