// One wallet operation at a time: within this tab (a promise chain) and across tabs of the same
// origin (the Web Locks API, where the browser offers it: secure contexts such as localhost).

let tail: Promise<unknown> = Promise.resolve();

export function withWalletLock<T>(fn: () => Promise<T>): Promise<T> {
  const run = (): Promise<T> => {
    const locks = (navigator as Navigator & { locks?: LockManager }).locks;
    return locks ? (locks.request('owlrun-wallet', () => fn()) as Promise<T>) : fn();
  };
  const next = tail.then(run, run);
  tail = next.catch(() => undefined);
  return next;
}
