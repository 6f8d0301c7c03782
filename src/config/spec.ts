// A small declarative schema: every field has a description and, where optional, a default
// (as Kong's schema.lua). `validate` fills defaults and names the exact key path on any error.

export type Spec =
  | { kind: 'string'; description: string; default?: string; optional?: true; enum?: readonly string[]; pattern?: RegExp }
  | { kind: 'integer' | 'number'; description: string; default?: number; optional?: true; min?: number; max?: number }
  | { kind: 'boolean'; description: string; default?: boolean }
  /** bytes: an integer or a string like "1mb", "64kb" */
  | { kind: 'size'; description: string; default: number }
  /** seconds: an integer or a string like "90s", "5m", "7d" */
  | { kind: 'duration'; description: string; default: number }
  | { kind: 'object'; description: string; fields: Record<string, Spec>; optional?: true }
  | { kind: 'array'; description: string; items: Spec; default?: readonly unknown[] }
  | { kind: 'record'; description: string; values: Spec; default?: Record<string, unknown> };

/** A plugin's config section: the top-level keys it owns, merged into the one schema. */
export type SpecFields = Readonly<Record<string, Spec>>;

// The validated value a spec describes: config types are derived from the schema, never kept in
// step by hand. A field with `optional: true` and no default may be absent.
type Absent<S> = S extends { optional: true } ? (S extends { default: unknown } ? false : true) : false;
type OptionalKeys<F> = { [K in keyof F]: Absent<F[K]> extends true ? K : never }[keyof F];
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The object a set of fields validates to. */
export type InferFields<F> = Simplify<
  { -readonly [K in Exclude<keyof F, OptionalKeys<F>>]: Infer<F[K]> } & { -readonly [K in OptionalKeys<F>]?: Infer<F[K]> }
>;

export type Infer<S> = S extends { kind: 'string'; enum: readonly (infer E)[] }
  ? E
  : S extends { kind: 'string' }
    ? string
    : S extends { kind: 'integer' | 'number' | 'size' | 'duration' }
      ? number
      : S extends { kind: 'boolean' }
        ? boolean
        : S extends { kind: 'object'; fields: infer F }
          ? InferFields<F>
          : S extends { kind: 'array'; items: infer I }
            ? Infer<I>[]
            : S extends { kind: 'record'; values: infer V }
              ? Record<string, Infer<V>>
              : never;

export class ConfigError extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`config: ${path || '(root)'}: ${problem}`);
    this.name = 'ConfigError';
  }
}

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

function parseUnits(v: unknown, units: Record<string, number>, path: string, what: string): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  const m = typeof v === 'string' ? /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(v) : null;
  const mult = m ? units[(m[2] || Object.keys(units)[0]!).toLowerCase()] : undefined;
  if (!m || mult === undefined) {
    throw new ConfigError(path, `expected ${what} (an integer or e.g. ${Object.keys(units).map((u) => '10' + u).join(', ')}), got ${JSON.stringify(v)}`);
  }
  return Number(m[1]) * mult;
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

export function validate(spec: Spec, value: unknown, path = ''): unknown {
  if (value === undefined || value === null) {
    if ('default' in spec && spec.default !== undefined) value = structuredClone(spec.default);
    else if (spec.kind === 'object') value = spec.optional ? undefined : {};
    else if (spec.kind === 'array') value = [];
    else if (spec.kind === 'record') value = {};
    else if ('optional' in spec && spec.optional) return undefined;
    else throw new ConfigError(path, 'is required');
    if (value === undefined) return undefined;
  }
  switch (spec.kind) {
    case 'string': {
      if (typeof value !== 'string') throw new ConfigError(path, `expected a string, got ${typeName(value)}`);
      if (spec.enum && !spec.enum.includes(value)) throw new ConfigError(path, `must be one of ${spec.enum.join(' | ')}, got "${value}"`);
      if (spec.pattern && !spec.pattern.test(value)) throw new ConfigError(path, `"${value}" does not match ${spec.pattern}`);
      return value;
    }
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value) || (spec.kind === 'integer' && !Number.isInteger(value))) {
        throw new ConfigError(path, `expected ${spec.kind === 'integer' ? 'an integer' : 'a number'}, got ${JSON.stringify(value)}`);
      }
      if (spec.min !== undefined && value < spec.min) throw new ConfigError(path, `must be ≥ ${spec.min}, got ${value}`);
      if (spec.max !== undefined && value > spec.max) throw new ConfigError(path, `must be ≤ ${spec.max}, got ${value}`);
      return value;
    }
    case 'boolean':
      if (typeof value !== 'boolean') throw new ConfigError(path, `expected true or false, got ${JSON.stringify(value)}`);
      return value;
    case 'size':
      return parseUnits(value, SIZE_UNITS, path, 'a size in bytes');
    case 'duration':
      return parseUnits(value, DURATION_UNITS, path, 'a duration in seconds');
    case 'object': {
      if (typeName(value) !== 'object') throw new ConfigError(path, `expected a mapping, got ${typeName(value)}`);
      const input = value as Record<string, unknown>;
      for (const key of Object.keys(input)) {
        if (!(key in spec.fields)) {
          throw new ConfigError(join(path, key), `unknown key (known: ${Object.keys(spec.fields).join(', ')})`);
        }
      }
      const out: Record<string, unknown> = {};
      for (const [key, fieldSpec] of Object.entries(spec.fields)) {
        const v = validate(fieldSpec, input[key], join(path, key));
        if (v !== undefined) out[key] = v;
      }
      return out;
    }
    case 'array': {
      if (!Array.isArray(value)) throw new ConfigError(path, `expected a list, got ${typeName(value)}`);
      return value.map((item, i) => validate(spec.items, item, `${path}[${i}]`));
    }
    case 'record': {
      if (typeName(value) !== 'object') throw new ConfigError(path, `expected a mapping, got ${typeName(value)}`);
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, validate(spec.values, v, join(path, k))]),
      );
    }
  }
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** Lines of "key.path  (default)  description" for --help. */
export function describe(spec: Spec, path = ''): string[] {
  const here = path ? [`  ${path.padEnd(34)} ${'default' in spec && spec.default !== undefined ? `[${JSON.stringify(spec.default)}] ` : ''}${spec.description}`] : [];
  if (spec.kind === 'object') return [...here, ...Object.entries(spec.fields).flatMap(([k, s]) => describe(s, join(path, k)))];
  if (spec.kind === 'array' && spec.items.kind === 'object') return [...here, ...describe(spec.items, `${path}[]`).slice(1)];
  return here;
}
