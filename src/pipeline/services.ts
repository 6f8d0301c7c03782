/**
 * Typed service keys: what one plugin provides and another needs, without strings and casts.
 * `const Billing = serviceKey<Billing>('billing')` names a service and carries its type; the
 * loader checks every plugin's `needs` against what enabled plugins `provide` before any starts.
 */
export interface ServiceKey<T> {
  readonly name: string;
  /** Phantom: carries T for the compiler; never set. */
  readonly type?: T;
}

export function serviceKey<T>(name: string): ServiceKey<T> {
  return Object.freeze({ name });
}

/** The services of one gateway, filled as plugins are created (in dependency order). */
export class Services {
  private readonly map = new Map<ServiceKey<unknown>, unknown>();

  /** Registers `value` under `key`. A key has one provider: a second, different value is a bug. */
  provide<T>(key: ServiceKey<T>, value: T): void {
    if (this.map.has(key) && this.map.get(key) !== value) throw new Error(`service "${key.name}" is provided twice`);
    this.map.set(key, value);
  }

  /** The service, or a clear error naming it (a plugin needs it but nothing provided it). */
  get<T>(key: ServiceKey<T>): T {
    if (!this.map.has(key)) throw new Error(`service "${key.name}" is not provided by any enabled plugin`);
    return this.map.get(key) as T;
  }

  /** The service when some enabled plugin provides it (optional dependencies). */
  find<T>(key: ServiceKey<T>): T | undefined {
    return this.map.get(key) as T | undefined;
  }

  has(key: ServiceKey<unknown>): boolean {
    return this.map.has(key);
  }
}
