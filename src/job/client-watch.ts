import type { ServerResponse } from 'node:http';

/**
 * Whether the client of one job is still there. `gone` turns true when the response closes
 * before it finished (the client went away). The AbortSignal plugins and waits need
 * (job.clientSignal()) is made when first asked for — most jobs never ask: each AbortSignal has
 * a hidden class of its own, which V8 carries through young-generation GCs — and is aborted
 * exactly when `gone` turns true (at once if it already has).
 */
export class ClientWatch {
  gone = false;
  private controller?: AbortController;

  constructor(res: ServerResponse) {
    res.once('close', () => {
      if (res.writableFinished) return;
      this.gone = true;
      this.controller?.abort();
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
