import assert from 'node:assert/strict';
import { debit, InsufficientBalanceError, WithdrawalsRepo } from '../../../src/ledger/withdrawals.js';
import type { Db } from '../../../src/store/db.js';
import { fund, STORES } from './stores.js';

const balanceOf = async (db: Db, account: string) => Number((await db.get<{ b: number }>(`SELECT balance_sats AS b FROM balances WHERE account = ?`, [account]))?.b ?? 0);

for (const store of STORES) {
  describe(`ledger/withdrawals (${store.name})`, () => {
    let db: Db;
    let drop: () => Promise<void>;
    let repo: WithdrawalsRepo;
    beforeEach(async () => {
      ({ db, drop } = await store.open());
      repo = new WithdrawalsRepo(db);
      await repo.init();
      await repo.init(); // idempotent
    });
    afterEach(async () => drop());

    const open = (id: string, state: 'swapping' | 'melting' | 'done', amount: number, hold: number, account = 'provider:alice') =>
      db.tx((sql) => repo.open(sql, { id, account, kind: state === 'melting' ? 'lightning' : 'ecash', state, mint: 'http://mint', amount_sats: amount, hold_sats: hold }));

    it('available = balance − what withdrawals in flight hold back', async () => {
      await fund(db, 'provider:alice', 100);
      assert.equal(await repo.available(db, 'provider:alice'), 100);
      assert.equal(await repo.available(db, 'provider:nobody'), 0);
      await open('w1', 'swapping', 30, 31);
      await open('w2', 'melting', 20, 22);
      await open('w3', 'done', 5, 0);
      assert.equal(await repo.available(db, 'provider:alice'), 100 - 31 - 22);
      await db.tx((sql) => repo.fail(sql, 'w2', 'refused'));
      assert.equal(await repo.available(db, 'provider:alice'), 100 - 31);
      assert.equal(await balanceOf(db, 'provider:alice'), 100, 'a refused withdrawal debits nothing');
    });

    it('complete debits what the spend cost and closes the withdrawal once', async () => {
      await fund(db, 'gateway', 50);
      await open('w1', 'swapping', 30, 31, 'gateway');
      const w = await db.tx((sql) => repo.complete(sql, 'w1', { debited: 31, fee: 1, token: 'cashuBxyz' }));
      assert.equal(w.state, 'done');
      assert.equal(await balanceOf(db, 'gateway'), 19);
      assert.equal(await repo.available(db, 'gateway'), 19);
      await assert.rejects(db.tx((sql) => repo.complete(sql, 'w1', { debited: 31, fee: 1 })), /not in flight/);
      assert.equal(await balanceOf(db, 'gateway'), 19, 'the failed second close rolled back');
      const row = (await repo.get('w1'))!;
      assert.deepEqual([row.state, Number(row.debited_sats), Number(row.fee_sats), row.token], ['done', 31, 1, 'cashuBxyz']);
      assert.deepEqual(await repo.totals(), [{ account: 'gateway', withdrawn: 31, held: 0, count: 1 }]);
    });

    it('a failure after the mint spent the inputs debits only the fees it kept', async () => {
      await fund(db, 'provider:alice', 40);
      await open('w1', 'swapping', 30, 31);
      await db.tx((sql) => repo.fail(sql, 'w1', 'incomplete payout', 1));
      assert.equal(await balanceOf(db, 'provider:alice'), 39);
      assert.equal((await repo.get('w1'))!.state, 'failed');
    });

    it('a guarded debit never overdraws; an unguarded one records what happened', async () => {
      await fund(db, 'provider:alice', 10);
      await assert.rejects(db.tx((sql) => debit(sql, 'provider:alice', 11)), (err: unknown) => err instanceof InsufficientBalanceError && err.available === 10);
      await assert.rejects(db.tx((sql) => debit(sql, 'provider:ghost', 1)), InsufficientBalanceError);
      await db.tx((sql) => debit(sql, 'provider:alice', 10));
      assert.equal(await balanceOf(db, 'provider:alice'), 0);
      await db.tx((sql) => debit(sql, 'provider:ghost', 2, false));
      assert.equal(await balanceOf(db, 'provider:ghost'), -2);
      await assert.rejects(db.tx((sql) => debit(sql, 'provider:alice', -1)), RangeError);
    });

    it('lists an account\'s withdrawals newest first, in flight ones by age, and forgets old tokens', async () => {
      await fund(db, 'provider:alice', 100);
      await db.tx((sql) => repo.open(sql, { id: 'a', account: 'provider:alice', kind: 'ecash', state: 'done', mint: 'm', amount_sats: 1, hold_sats: 0, token: 'cashuBa' }, 1000));
      await db.tx((sql) => repo.open(sql, { id: 'b', account: 'provider:alice', kind: 'ecash', state: 'swapping', mint: 'm', amount_sats: 2, hold_sats: 2 }, 2000));
      assert.deepEqual((await repo.list('provider:alice')).map((w) => w.id), ['b', 'a']);
      assert.deepEqual((await repo.inFlight(1500)).map((w) => w.id), []);
      assert.deepEqual((await repo.inFlight(2000)).map((w) => w.id), ['b']);
      assert.equal(await repo.expireTokens(1001), 1);
      assert.equal((await repo.get('a'))!.token, null);
    });
  });
}
