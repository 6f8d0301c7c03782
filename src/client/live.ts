// Which pending records (ops, payments) a running wallet is still working on, so recovery only
// touches what a dead process — or a call of this process that failed — left behind.

/** Ids of the ops and payments some wallet of this process is working on now. */
const active = new Set<string>();

interface NodeProcess {
  pid: number;
  kill(pid: number, signal: number): boolean;
}
const proc = (globalThis as { process?: NodeProcess }).process;

/** This process's id (0 in a browser). */
export const PID: number = typeof proc?.pid === 'number' ? proc.pid : 0;

export function markActive(id: string): void {
  active.add(id);
}

export function markDone(id: string): void {
  active.delete(id);
}

/** Whether the record's owner may still be working on it: this process and the id is active, or another process that is alive. */
export function inUse(record: { id: string; pid: number }): boolean {
  if (record.pid === PID) return active.has(record.id);
  if (!proc || record.pid <= 0) return false;
  try {
    proc.kill(record.pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

export function newId(): string {
  const b = globalThis.crypto.getRandomValues(new Uint8Array(12));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
