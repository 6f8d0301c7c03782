import { randomBytes } from 'node:crypto';
import { Billing } from '../billing/billing.js';
import { FixedRate } from '../billing/rate.js';
import { GatewayWallet } from '../cashu/wallet.js';
import { JobsRepo } from '../ledger/jobs.js';
import type { PluginDeps } from '../pipeline/registry.js';
import { serviceKey } from '../pipeline/services.js';

/** The money services payment, metering and change share: one of each per gateway. */
export interface MoneyServices {
  wallet: GatewayWallet;
  jobs: JobsRepo;
  billing: Billing;
}

/** The one set of money services per gateway (a promise: made once, on first use). */
export const MoneyKey = serviceKey<Promise<MoneyServices>>('money');

/** Created once, on first use by any plugin; schemas are created before it is handed out. */
export function moneyServices(deps: PluginDeps): Promise<MoneyServices> {
  let made = deps.services.find(MoneyKey);
  if (!made) {
    made = (async () => {
      const wallet = new GatewayWallet({
        db: deps.db,
        mints: deps.config.payment.mints,
        log: deps.log,
        onInvalidSignatures: (jobId, sats) => {
          deps.metrics.invalidSignatureSats.inc(sats);
          deps.log.error({ job: jobId, sats }, 'the mint returned signatures that fail their DLEQ proof: those sats are missing');
        },
        onMintRequest: (operation, outcome, seconds) => {
          deps.metrics.mintRequests.inc({ operation, outcome });
          deps.metrics.mintDuration.observe({ operation }, seconds);
        },
      });
      const jobs = new JobsRepo(deps.db, randomBytes(9).toString('base64url'));
      await wallet.init();
      await jobs.init();
      await jobs.heartbeat(Date.now());
      return { wallet, jobs, billing: new Billing(deps.config, new FixedRate(deps.config.oracle.fixedRate)) };
    })();
    deps.services.provide(MoneyKey, made);
  }
  return made;
}
