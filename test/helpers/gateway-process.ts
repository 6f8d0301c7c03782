// The gateway as its own process (`node --import tsx src/main.ts --config FILE`), for tests that
// kill it. Its URL is read from its "listening" log line (JSON on stdout), so the config can use
// port 0 and the test never guesses a free port.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export class GatewayProcess {
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** stderr and the non-JSON stdout, for failure messages. */
  output = '';
  /** Parsed JSON log lines. */
  readonly logs: Record<string, unknown>[] = [];

  private constructor(
    private readonly child: ChildProcess,
    public url = '',
  ) {
    this.exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  }

  /** Starts the gateway; resolves once it listens. The config's log level must be info or lower. */
  static async start(configFile: string, startTimeoutMs = 30_000): Promise<GatewayProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', configFile], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const gp = new GatewayProcess(child);
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (gp.output += s));
    let buffered = '';
    const listening = new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`gateway did not start in ${startTimeoutMs} ms:\n${gp.output}`)), startTimeoutMs);
      child.stdout!.setEncoding('utf8').on('data', (s: string) => {
        buffered += s;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          try {
            const entry = JSON.parse(line) as Record<string, unknown>;
            gp.logs.push(entry);
            if (entry.msg === 'owlrun gateway listening' && typeof entry.url === 'string') {
              clearTimeout(timer);
              resolveUrl(entry.url);
            }
          } catch {
            gp.output += line + '\n';
          }
        }
      });
      void gp.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`gateway exited (code ${code}, signal ${signal}) before listening:\n${gp.output}`));
      });
    });
    gp.url = await listening;
    return gp;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** SIGKILL: no shutdown, no settlement; resolves once the process is gone. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (graceful shutdown); resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return (await this.exited).code;
  }
}
