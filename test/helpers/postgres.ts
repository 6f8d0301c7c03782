/**
 * The PostgreSQL server for the tests that need a real one (several gateway replicas on one
 * store). Machines of this project start one at 127.0.0.1:5432 (trust auth, database `test`);
 * OWLRUN_TEST_POSTGRES_URL names another, and OWLRUN_TEST_POSTGRES_URL=off skips those tests.
 */
const env = process.env.OWLRUN_TEST_POSTGRES_URL;
export const TEST_POSTGRES_URL: string | undefined = env === 'off' ? undefined : env || 'postgres://postgres@127.0.0.1:5432/test';
