import type { ServerResponse } from 'node:http';

/**
 * Whether the client of one job is still there. `gone` turns true when the response closes
 * before it finished (the client went away); `onGone`, when set, is then called once. The
 * AbortSignal plugins and waits need (job.clientSignal()) is made when first asked for — most
 * jobs never ask: each AbortSignal has a hidden class of its own, which V8 carries through
 * young-generation GCs — and is aborted exactly when `gone` turns true (at once if it already has).
 * One 'close' listener per job serves all three (a reader of the node's answer sets `onGone`
 * instead of adding a listener of its own).
 */
export class ClientWatch {
  gone = false;
  /** Called once when the client goes away (set and cleared by whoever is waiting on it). */
  onGone?: () => void;
  private controller?: AbortController;

  constructor(res: ServerResponse) {
    res.on('close', () => {
      if (res.writableFinished) return;
      this.gone = true;
      this.controller?.abort();
      this.onGone?.();
    });
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.gone) this.controller.abort();
    }
    return this.controller.signal;
  }
}
