/**
 * The PostgreSQL server for the tests that need a real one (several gateway replicas on one
 * store). Machines of this project start one at 127.0.0.1:5432 (trust auth, database `test`);
 * OWLRUN_TEST_POSTGRES_URL names another, and OWLRUN_TEST_POSTGRES_URL=off skips those tests.
 */
const env = process.env.OWLRUN_TEST_POSTGRES_URL;
export const TEST_POSTGRES_URL: string | undefined = env === 'off' ? undefined : env || 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh database on the test server, and how to drop it (every connection to it is closed first). */
export async function scratchDatabase(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const { randomBytes } = await import('node:crypto');
  const { default: pg } = await import('pg');
  if (!TEST_POSTGRES_URL) throw new Error('no PostgreSQL test server (OWLRUN_TEST_POSTGRES_URL=off)');
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(TEST_POSTGRES_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}
