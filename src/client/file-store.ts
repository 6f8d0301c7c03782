// The wallet state in a JSON file (Node only: loaded by openWallet only when a file is named).
// - Every write goes to a temporary file in the same directory, is fsynced, then renamed over the
//   file (and the directory fsynced): a reader or a crash sees the old state or the new, never half.
// - Every read-modify-write holds two locks, for that write only: an in-process mutex (several
//   wallets of one process) and a lock directory beside the file (proper-lockfile: other processes,
//   the CLI included). proper-lockfile keeps a held lock's mtime fresh and takes over a lock whose
//   holder died (stale after 30 s), which a hand-made O_EXCL lock file gets subtly wrong.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import lockfile from 'proper-lockfile';
import { KeyedMutex, type WalletState, type WalletStore } from './state.js';

/** Every FileStore of this module copy shares it: one read-modify-write per file at a time. */
const mutex = new KeyedMutex();

const LOCK_OPTIONS = {
  realpath: false,
  stale: 30_000,
  retries: { retries: 400, factor: 1.2, minTimeout: 2, maxTimeout: 100 },
};

export class FileStore implements WalletStore {
  readonly path: string;

  constructor(file: string) {
    this.path = resolve(file);
  }

  async read(): Promise<WalletState | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const s = JSON.parse(text) as WalletState;
    if (s.version !== 1) throw new Error(`${this.path}: not an owlrun wallet file (version ${String(s.version)})`);
    return s;
  }

  init(create: () => WalletState): Promise<WalletState> {
    return this.locked(async () => {
      const existing = await this.read();
      if (existing) return existing;
      const s = create();
      await this.write(s);
      return s;
    });
  }

  update<T>(fn: (s: WalletState) => T): Promise<T> {
    return this.locked(async () => {
      const s = await this.read();
      if (!s) throw new Error(`${this.path}: the wallet file is gone`);
      const out = fn(s);
      await this.write(s);
      return out;
    });
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    return mutex.run(this.path, async () => {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      let compromised: Error | undefined;
      const release = await lockfile.lock(this.path, {
        ...LOCK_OPTIONS,
        lockfilePath: `${this.path}.lock`,
        onCompromised: (err: Error) => {
          compromised = err;
        },
      });
      try {
        const out = await fn();
        if (compromised) throw new Error(`${this.path}: the wallet lock was lost (${compromised.message})`);
        return out;
      } finally {
        await release().catch(() => undefined);
      }
    });
  }

  /** Write-then-rename with fsync: the file is always a complete state. Readable by its owner only (it holds money). */
  private async write(s: WalletState): Promise<void> {
    const tmp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(s, null, 1) + '\n');
      await fh.sync();
    } catch (err) {
      await fh.close();
      await rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    await rename(tmp, this.path);
    const dir = await open(dirname(this.path), 'r');
    try {
      await dir.sync();
    } catch {
      // some file systems cannot fsync a directory; the rename itself is atomic
    } finally {
      await dir.close();
    }
  }
}
