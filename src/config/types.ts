// The validated configuration of the core, derived from its schema (defaults filled in).
// Plugins' sections are typed by their own manifests (PluginDeps<C>.config).
import type { BACKEND_KINDS, configSpec, keyEntry } from './schema.js';
import type { Infer } from './spec.js';

type Validated = Infer<typeof configSpec>;
export type BackendKind = (typeof BACKEND_KINDS)[number];
export type KeyEntry = Infer<typeof keyEntry>;
/** A backend as load.ts leaves it: maxConcurrent filled by kind when the config leaves it out. */
export type BackendConfig = Omit<Validated['backends'][number], 'maxConcurrent'> & { maxConcurrent: number };
export type GatewayConfig = Omit<Validated, 'backends'> & { backends: BackendConfig[] };
export type Price = GatewayConfig['pricing']['default'];
