import type { IncomingHttpHeaders } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import type { BackendNode } from './node.js';

// A backend that is not reached by an HTTP request of the gateway's (e.g. a node that dialled
// in over its own WebSocket) plugs in here. Whatever the transport, the job sees the same
// Upstream: a status, headers and ONE byte stream that goes through the same stream
// transformer (metering, budget cut, change) as an HTTP response body.

/** A backend's response as a job reads it: an HTTP response, or a stream a transport assembled. */
export interface UpstreamResponse extends Readable {
  statusCode?: number;
  headers: IncomingHttpHeaders;
  /** An HTTP response's headers as received ([name, value, …]); read instead of `headers` when present. */
  rawHeaders?: string[];
}

export interface Upstream {
  readonly response: UpstreamResponse;
  /** Stops the backend's work on this job (or stops listening to it). Idempotent. */
  abort(): void;
}

/** What a transport needs to run one job: the body is final (caps and usage requests applied). */
export interface TransportRequest {
  readonly jobId: string;
  readonly body: Readonly<Record<string, unknown>>;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
}

export interface NodeTransport {
  /**
   * Starts the job on `node`. Resolves once the response's first byte is there (its body then
   * streams); rejects with NodeRefusedError when the node refused, timed out or vanished before
   * producing anything — nothing was streamed, so the job may move on to the next node.
   */
  open(node: BackendNode, req: TransportRequest): Promise<Upstream>;
}

/** The node did not take the job (refused, too slow, gone) before any output: try the next one. */
export class NodeRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NodeRefusedError';
  }
}

/** A writable upstream body for transports: push bytes in, end() or fail() it; the job reads it. */
export function transportResponse(contentType: string): UpstreamResponse & PassThrough {
  const body = new PassThrough() as PassThrough & UpstreamResponse;
  body.statusCode = 200;
  body.headers = { 'content-type': contentType };
  return body;
}
