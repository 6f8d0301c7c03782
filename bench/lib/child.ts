// The parent side: spawn a benchmark child (optionally pinned to CPUs), wait for its URL,
// talk to it over IPC.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildMsg, ParentMsg, ProcStats } from './protocol.js';

type Request = ParentMsg extends infer M ? (M extends { id: number } ? Omit<M, 'id'> : never) : never;

export interface ChildOptions {
  /** taskset CPU list ("1", "0,1"); undefined = not pinned. */
  cpus?: string;
  /** A command the child runs under, e.g. ['valgrind', '--tool=callgrind'] (after taskset). */
  wrapper?: string[];
  /** Extra node flags (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** Seconds to wait for 'ready'. */
  startTimeoutS?: number;
  /** Run the compiled .js under this root (lib/compile.ts) instead of the .ts under tsx. */
  jsRoot?: string;
}

export class ChildProc {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(m: ChildMsg): void; reject(e: Error): void }>();
  private exited = false;
  readonly exitedPromise: Promise<void>;

  private constructor(
    readonly name: string,
    private readonly proc: ChildProcess,
    readonly url: string,
    readonly info: Record<string, unknown>,
  ) {
    this.exitedPromise = new Promise((resolve) => {
      proc.once('exit', () => {
        this.exited = true;
        for (const w of this.waiting.values()) w.reject(new Error(`${name} exited`));
        this.waiting.clear();
        resolve();
      });
    });
    proc.on('message', (raw) => {
      const msg = raw as ChildMsg;
      if (!('id' in msg)) return;
      const w = this.waiting.get(msg.id);
      if (!w) return;
      this.waiting.delete(msg.id);
      if (msg.type === 'error') w.reject(new Error(`${name}: ${msg.message}`));
      else w.resolve(msg);
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  static async start(name: string, script: string, arg: unknown, opts: ChildOptions = {}): Promise<ChildProc> {
    const nodeArgs = [...(opts.nodeArgs ?? [])];
    if (opts.jsRoot !== undefined) nodeArgs.push(join(opts.jsRoot, 'bench', script.replace(/\.ts$/, '.js')));
    else nodeArgs.push('--import', import.meta.resolve('tsx'), fileURLToPath(new URL(`../${script}`, import.meta.url)));
    nodeArgs.push(JSON.stringify(arg));
    const [cmd, ...args] = [...(opts.cpus !== undefined ? ['taskset', '-c', opts.cpus] : []), ...(opts.wrapper ?? []), process.execPath, ...nodeArgs];
    // The child's stdout (its URL line, gateway logs with --log-level) goes to our stderr: our
    // stdout carries only the report.
    const proc = spawn(cmd!, args, { stdio: ['ignore', 2, 2, 'ipc'] });
    const ready = await new Promise<Extract<ChildMsg, { type: 'ready' }>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: not ready after ${opts.startTimeoutS ?? 30} s`)), (opts.startTimeoutS ?? 30) * 1000);
      proc.on('message', (raw) => {
        const msg = raw as ChildMsg;
        if (msg.type === 'ready') {
          clearTimeout(timer);
          resolve(msg);
        } else if (msg.type === 'failed') {
          clearTimeout(timer);
          reject(new Error(`${name} failed to start: ${msg.message}`));
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code} before it was ready`));
      });
      proc.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    return new ChildProc(name, proc, ready.url, ready.info ?? {});
  }

  call(req: Request, timeoutMs = 10_000): Promise<ChildMsg> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`));
    const id = this.nextId++;
    return new Promise<ChildMsg>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.name}: no answer to ${req.type} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.proc.send({ ...req, id } as ParentMsg);
    });
  }

  async stats(): Promise<ProcStats> {
    const msg = await this.call({ type: 'stats' });
    if (msg.type !== 'ok' || !msg.stats) throw new Error(`${this.name}: bad stats answer`);
    return msg.stats;
  }

  async setOptions(options: Record<string, unknown>): Promise<void> {
    await this.call({ type: 'set-options', options });
  }

  async query<T>(what: string): Promise<T> {
    const msg = await this.call({ type: 'query', what });
    if (msg.type !== 'ok') throw new Error(`${this.name}: bad query answer`);
    return msg.data as T;
  }

  /** Asks the child to exit (so a CPU profile gets written); kills it if it does not. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.exited) return;
    try {
      await this.call({ type: 'shutdown' }, timeoutMs);
    } catch {
      /* killed below */
    }
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    await this.exitedPromise;
    clearTimeout(timer);
  }
}
