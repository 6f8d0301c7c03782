import type { GatewayConfig } from '../config/types.js';
import { ConfigError, type InferFields, type SpecFields } from '../config/spec.js';
import type { PluginHooks } from './plugin.js';
import type { PluginDeps } from './registry.js';
import type { ServiceKey } from './services.js';
import type { MigrationSet } from '../store/migrate.js';

/**
 * What a plugin declares before it runs (as fastify-plugin's metadata, Kong's schema.lua): its
 * name and priority, the services it needs from other plugins and those it provides, its own
 * config keys, and how it is created. The loader checks the graph before creating any plugin.
 */
export interface PluginManifest<C = unknown> {
  /** = its folder under plugins/, and its name in `plugins:`. */
  readonly name: string;
  /** All phases run high → low (ties by name). */
  readonly priority: number;
  /** Services some other enabled plugin MUST provide: start-up stops naming every one missing. */
  readonly needs?: readonly ServiceKey<unknown>[];
  /** Services it may use when some enabled plugin provides them (services.find at call time). */
  readonly uses?: readonly ServiceKey<unknown>[];
  /** Services it registers in deps.services while it is created. */
  readonly provides?: readonly ServiceKey<unknown>[];
  /** Runs without being listed in `plugins:`: always, or whenever one of the named plugins runs. */
  readonly implied?: 'always' | { readonly by: readonly string[] };
  /** Runs without being listed when its own config switches it on (e.g. `marketplace.enabled`). */
  enabledBy?(config: GatewayConfig & C): boolean;
  /** The top-level config keys it owns (validated whether or not it is enabled; --help lists them). */
  readonly config?: SpecFields;
  /** The schema versions of the tables it owns (applied whether or not it is enabled). */
  readonly migrations?: readonly MigrationSet[];
  /** Cross-checks of its config when it is enabled; throws ConfigError naming the key. */
  check?(config: GatewayConfig & C): void;
  /** Starts the plugin (timers, tables, services it provides) and returns its phases. */
  create(deps: PluginDeps<C>): Promise<PluginHooks>;
}

/** The plugins a gateway can run, and those `plugins:` enables when it is left out. */
export interface PluginCatalogue {
  readonly manifests: readonly PluginManifest<never>[];
  readonly defaults: readonly string[];
}

/** Types a manifest's config and create() from its own schema fragment. */
export function definePlugin<const F extends SpecFields = Record<never, never>>(
  m: Omit<PluginManifest<InferFields<F>>, 'config'> & { readonly config?: F },
): PluginManifest<InferFields<F>> {
  return m as PluginManifest<InferFields<F>>;
}

/**
 * The enabled plugins in creation order: the listed ones, those they imply, then every plugin
 * after the providers of what it needs. Throws ConfigError at `plugins` naming an unknown plugin,
 * or each plugin with every dependency it lacks (and the plugins that would provide them).
 */
export function resolvePlugins(catalogue: PluginCatalogue, config: Pick<GatewayConfig, 'plugins'>): PluginManifest<never>[] {
  const listed = config.plugins;
  const byName = new Map(catalogue.manifests.map((m) => [m.name, m]));
  listed.forEach((name, i) => {
    if (!byName.has(name)) throw new ConfigError(`plugins[${i}]`, `unknown plugin "${name}" (known: ${[...byName.keys()].join(', ')})`);
  });
  const names = new Set(listed);
  // The config was validated against the schema with every plugin's section: it holds m's.
  for (const m of catalogue.manifests) if (m.enabledBy?.(config as never)) names.add(m.name);
  for (const m of catalogue.manifests) {
    const implied = m.implied === 'always' || (m.implied !== undefined && m.implied.by.some((n) => names.has(n)));
    if (implied) names.add(m.name);
  }
  const enabled = [...names].map((n) => byName.get(n)!);
  const providerOf = (key: ServiceKey<unknown>, among: readonly PluginManifest<never>[]) => among.filter((m) => m.provides?.includes(key));
  const problems: string[] = [];
  for (const m of enabled) {
    const missing = (m.needs ?? []).filter((k) => providerOf(k, enabled).length === 0);
    if (missing.length === 0) continue;
    const wants = missing.map((k) => {
      const by = providerOf(k, catalogue.manifests).map((p) => `"${p.name}"`);
      return by.length > 0 ? by.join(' or ') : `a plugin providing "${k.name}"`;
    });
    problems.push(`the ${m.name} plugin needs ${wants.join(' and ')} too (${missing.map((k) => k.name).join(', ')})`);
  }
  if (problems.length > 0) throw new ConfigError('plugins', problems.join('; '));
  return creationOrder(enabled);
}

/**
 * Providers before the plugins that need them, otherwise as listed; a cycle of needs is a bug.
 * Providers of what a plugin only `uses` come first too, unless that would close a cycle.
 */
function creationOrder(enabled: PluginManifest<never>[]): PluginManifest<never>[] {
  const providersOf = (keys: readonly ServiceKey<unknown>[] | undefined) => enabled.filter((p) => keys?.some((k) => p.provides?.includes(k)));
  const before = new Map(enabled.map((m) => [m, new Set(providersOf(m.needs).filter((p) => p !== m))]));
  const reaches = (from: PluginManifest<never>, to: PluginManifest<never>, seen = new Set<PluginManifest<never>>()): boolean =>
    from === to || (!seen.has(from) && (seen.add(from), [...before.get(from)!].some((p) => reaches(p, to, seen))));
  for (const m of enabled) for (const p of providersOf(m.uses)) if (p !== m && !reaches(p, m)) before.get(m)!.add(p);
  const out: PluginManifest<never>[] = [];
  const state = new Map<PluginManifest<never>, 'visiting' | 'done'>();
  const visit = (m: PluginManifest<never>, path: string[]) => {
    if (state.get(m) === 'done') return;
    if (state.get(m) === 'visiting') throw new Error(`plugins need each other in a cycle: ${[...path, m.name].join(' → ')}`);
    state.set(m, 'visiting');
    for (const p of before.get(m)!) visit(p, [...path, m.name]);
    state.set(m, 'done');
    out.push(m);
  };
  for (const m of enabled) visit(m, []);
  return out;
}
