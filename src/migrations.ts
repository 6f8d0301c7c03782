import { WALLET_MIGRATIONS } from './cashu/holdings.js';
import { DEVMINT_MIGRATIONS } from './devmint/repository.js';
import { JOBS_MIGRATIONS } from './ledger/jobs.js';
import { REGISTRATIONS_MIGRATIONS } from './ledger/registrations.js';
import { WITHDRAWALS_MIGRATIONS } from './ledger/withdrawals.js';
import type { PluginCatalogue } from './pipeline/manifest.js';
import type { MigrationSet } from './store/migrate.js';

/** The schema versions of the tables src/ modules own (the dev mint's come last). An owner of new tables adds its list here. */
export const CORE_MIGRATIONS: readonly MigrationSet[] = [
  JOBS_MIGRATIONS,
  WALLET_MIGRATIONS,
  WITHDRAWALS_MIGRATIONS,
  REGISTRATIONS_MIGRATIONS,
];

/**
 * Every owner's schema versions: the core's and every catalogue plugin's (its manifest's
 * `migrations`, enabled or not, so the store's schema never depends on which plugins run). What
 * the gateway applies at start (one transaction) and what `owlrun migrate` and `owlrun doctor` check.
 */
export function allMigrations(catalogue: PluginCatalogue): MigrationSet[] {
  return [...CORE_MIGRATIONS, ...catalogue.manifests.flatMap((m) => m.migrations ?? []), DEVMINT_MIGRATIONS];
}
