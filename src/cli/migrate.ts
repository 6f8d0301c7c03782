import { parseArgs } from 'node:util';
import { loadConfig, migrations } from '../compose.js';
import { migrate, pendingMigrations } from '../store/migrate.js';
import { openDb } from '../store/open.js';
import { CliError, defaultConfigFile, oneLine, printableStoreUrl, storeFileMissing } from './common.js';

/**
 * `owlrun migrate [--config FILE] [--check]`: applies the store's pending schema migrations (the
 * gateway also does at start). --check changes nothing: exit 0 when the store is current, 1 when
 * migrations are pending. Returns the exit code.
 */
export async function migrateCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' }, check: { type: 'boolean', default: false }, verbose: { type: 'boolean', default: false } }, strict: true });
  const config = loadConfig(values.config ?? defaultConfigFile());
  const where = printableStoreUrl(config.store.url);
  if (values.check && storeFileMissing(config.store.url)) {
    process.stdout.write(`store ${where}: does not exist yet (the gateway creates it at first start; owlrun migrate creates it now)\n`);
    return 1;
  }
  const db = await openDb(config.store.url).catch((err: unknown) => {
    throw new CliError(`store ${where}: cannot open: ${oneLine(err)}`);
  });
  try {
    if (values.check) {
      const pending = await pendingMigrations(db, migrations);
      if (pending.length === 0) {
        process.stdout.write(`store ${where}: schema current\n`);
        return 0;
      }
      for (const m of pending) process.stdout.write(`pending: ${m.owner} #${m.version} (${m.name})\n`);
      process.stdout.write(`store ${where}: ${pending.length} migration(s) pending: run owlrun migrate${values.config ? ` --config ${values.config}` : ''}\n`);
      return 1;
    }
    const applied = await migrate(db, migrations);
    for (const m of applied) process.stdout.write(`applied: ${m.owner} #${m.version} (${m.name})\n`);
    process.stdout.write(`store ${where}: schema current${applied.length === 0 ? ' (nothing to apply)' : ''}\n`);
    return 0;
  } finally {
    await db.close();
  }
}
