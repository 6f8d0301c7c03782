// The validated configuration of the core, derived from its schema (defaults filled in).
// Plugins' sections are typed by their own manifests (PluginDeps<C>.config).
import type { BACKEND_KINDS, configSpec, keyEntry } from './schema.js';
import type { Infer } from './spec.js';

export type GatewayConfig = Infer<typeof configSpec>;
export type BackendKind = (typeof BACKEND_KINDS)[number];
export type KeyEntry = Infer<typeof keyEntry>;
export type BackendConfig = GatewayConfig['backends'][number];
export type Price = GatewayConfig['pricing']['default'];
