import { MARKETPLACE_MIGRATIONS } from '../plugins/marketplace/accounts.js';
import { BROADCASTS_MIGRATIONS } from '../plugins/oracle/broadcasts.js';
import { ORACLE_MIGRATIONS } from '../plugins/oracle/samples.js';
import { WALLET_MIGRATIONS } from './cashu/holdings.js';
import { DEVMINT_MIGRATIONS } from './devmint/repository.js';
import { JOBS_MIGRATIONS } from './ledger/jobs.js';
import { REGISTRATIONS_MIGRATIONS } from './ledger/registrations.js';
import { WITHDRAWALS_MIGRATIONS } from './ledger/withdrawals.js';
import type { MigrationSet } from './store/migrate.js';

/**
 * Every owner's schema versions: what the gateway applies at start (one transaction) and what
 * `owlrun migrate` and `owlrun doctor` check. An owner of new tables adds its list here.
 */
export const ALL_MIGRATIONS: readonly MigrationSet[] = [
  JOBS_MIGRATIONS,
  WALLET_MIGRATIONS,
  WITHDRAWALS_MIGRATIONS,
  REGISTRATIONS_MIGRATIONS,
  ORACLE_MIGRATIONS,
  BROADCASTS_MIGRATIONS,
  MARKETPLACE_MIGRATIONS,
  DEVMINT_MIGRATIONS,
];
