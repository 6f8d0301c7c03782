import type Router from '@koa/router';
import type { UpgradeRoutes } from '../http/upgrade.js';
import type { Job, Settlement } from './job.js';
import type { StreamAction, StreamEvent } from '../stream/event.js';
import type { RouteScopes } from '../http/scopes.js';

export type Verdict =
  | { readonly kind: 'continue' }
  | { readonly kind: 'reply'; readonly status: number; readonly body: unknown; readonly headers?: Record<string, string> };

export const CONTINUE: Verdict = Object.freeze({ kind: 'continue' });

/**
 * A plugin implements only the phases it needs. All phases run in priority order, high → low,
 * ties by name. onSettle runs exactly once per job that reached onRequest, whatever happened.
 */
export interface GatewayPlugin {
  readonly name: string;
  readonly priority: number;
  /** Checks and claims; a `reply` verdict stops the chain and is sent to the client. */
  onRequest?(job: Job): Promise<Verdict>;
  /**
   * Only the changes payment needs (caps, usage requests), for job.node's kind when set, else the
   * first candidate's. Sets job.bodyChanged when it changes job.body. Runs again on a fresh body
   * when the job fails over to a node of another kind: it MUST be repeatable.
   */
  transformRequest?(job: Job): void;
  /** Synchronous, per event, on the hot path. Every plugin sees every event. */
  onStreamEvent?(event: StreamEvent, job: Job): StreamAction;
  /**
   * Right before the settle transaction opens, outside it (no store lock held): CPU work the
   * settlement will need (e.g. unblinding the job's change proofs), so the transaction only
   * writes rows. MUST NOT write to the store, and MUST NOT be needed for correctness: onSettle
   * does whatever is left. Returns nothing when there is nothing to do. Errors are logged.
   */
  beforeSettle?(job: Job): Promise<void> | void;
  /**
   * Bills, pays change, credits; all plugins share one store transaction. A plugin with nothing
   * to wait for returns nothing (no promise): a settlement where no plugin returns one costs no
   * asynchronous step.
   */
  onSettle?(job: Job, settlement: Settlement): Promise<void> | void;
  /**
   * True (or true for this job) when onSettle will not touch the store (only afterCommit work):
   * no transaction is opened when no plugin needs one for the job.
   */
  readonly settlesWithoutStore?: boolean | ((job: Job) => boolean);
  /**
   * Mounts the plugin's own HTTP endpoints (e.g. GET /v1/change/{receipt}) on the root router,
   * or on a scope (scopes.admin: /admin, the admin key checked, answers not cached).
   * A thrown GatewayError becomes its error body (the app's one error handler).
   */
  routes?(router: Router, scopes: RouteScopes): void;
  /** Mounts the plugin's HTTP upgrade endpoints (e.g. a WebSocket) and their shutdown drain. */
  upgrades?(routes: UpgradeRoutes): void;
  close?(): Promise<void>;
}

/** What a manifest's create() returns: the phases; the loader adds the manifest's name and priority. */
export type PluginHooks = Omit<GatewayPlugin, 'name' | 'priority'>;
