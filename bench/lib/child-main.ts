// The child side of the IPC protocol: start a server, announce its URL, answer the parent.
import { countGcFromNow, procStats, samplePeaks, type ChildMsg, type ParentMsg } from './protocol.js';

export interface ChildServer {
  url: string;
  info?: Record<string, unknown>;
  setOptions?(options: Record<string, unknown>): void;
  /** Answers a `query` message (JSON-serialisable). */
  query?(what: string): unknown;
  close(): Promise<void>;
}

function send(msg: ChildMsg): void {
  process.send?.(msg);
}

/**
 * Runs a benchmark child: `start()` brings the server up; the URL is printed on stdout (for
 * manual use) and sent over IPC. The child exits when asked to, or when the parent goes away.
 * Exiting through process.exit() lets `node --cpu-prof` write its profile.
 */
export function runChild(name: string, start: () => Promise<ChildServer>): void {
  samplePeaks();
  let server: ChildServer | undefined;
  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    try {
      await server?.close();
    } finally {
      process.exit(code);
    }
  };

  process.on('message', (raw) => {
    const msg = raw as ParentMsg;
    try {
      switch (msg.type) {
        case 'stats':
          send({ id: msg.id, type: 'ok', stats: procStats() });
          break;
        case 'set-options':
          if (!server?.setOptions) throw new Error(`${name}: set-options not supported`);
          server.setOptions(msg.options);
          send({ id: msg.id, type: 'ok' });
          break;
        case 'query':
          if (!server?.query) throw new Error(`${name}: query not supported`);
          send({ id: msg.id, type: 'ok', data: server.query(msg.what) });
          break;
        case 'shutdown':
          send({ id: msg.id, type: 'ok' });
          void stop(0);
          break;
      }
    } catch (err) {
      send({ id: msg.id, type: 'error', message: (err as Error).message });
    }
  });
  process.on('disconnect', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));

  start().then(
    (s) => {
      server = s;
      countGcFromNow();
      if (process.send) process.stdout.write(`${name} listening on ${s.url}\n`);
      else process.stdout.write(`${s.url}\n`);
      send({ type: 'ready', url: s.url, info: s.info });
    },
    (err: Error) => {
      process.stderr.write(`${name}: ${err.stack ?? err.message}\n`);
      send({ type: 'failed', message: err.message });
      process.exit(1);
    },
  );
}
