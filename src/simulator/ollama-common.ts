// Ollama: model names and the reply/error bodies shared by the native and /v1 routes.
import http from 'node:http';
import { goJson } from './format.js';
import type { Exchange, Reply } from './types.js';

export const OLLAMA_VERSION = '0.33.0';

/** Ollama's full name of a model: a bare name means the ':latest' tag. */
export function ollamaName(model: string): string {
  return model.includes(':') ? model : `${model}:latest`;
}

export function ollamaHasModel(ex: Exchange, model: string): boolean {
  const want = ollamaName(model);
  return model !== '' && ex.models.some((m) => ollamaName(m) === want);
}

/** gin c.JSON: application/json; charset=utf-8, no trailing newline. */
export function ginJson(status: number, obj: unknown): Reply {
  return { status, headers: [['Content-Type', 'application/json; charset=utf-8']], body: goJson(obj) };
}

/** json.NewEncoder in the /v1 middleware: application/json, trailing newline. */
export function encoderJson(status: number, obj: unknown): Reply {
  return { status, headers: [['Content-Type', 'application/json']], body: goJson(obj) + '\n' };
}

/** The message Ollama sends with a status (the failStatus knob). */
export function ollamaFailMessage(status: number): string {
  switch (status) {
    case 500:
      return 'model runner has unexpectedly stopped, this may be due to resource limitations or an internal error, check ollama server logs for details';
    case 503:
      return 'server busy, please try again.  maximum pending requests exceeded';
    case 499:
      return 'request canceled';
    default:
      return (http.STATUS_CODES[status] ?? 'error').toLowerCase();
  }
}

/** Native error body `{"error":"…"}`. */
export function nativeError(status: number, message: string): Reply {
  return ginJson(status, { error: message });
}

/** /v1 error body (BaseWriter.writeError). */
export function v1Error(status: number, message: string): Reply {
  const type = status === 400 ? 'invalid_request_error' : status === 404 ? 'not_found_error' : 'api_error';
  return encoderJson(status, { error: { message, type, param: null, code: null } });
}

