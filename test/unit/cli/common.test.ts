import assert from 'node:assert/strict';
import { moveDevMint, printableStoreUrl } from '../../../src/cli/common.js';
import { testConfig } from '../../helpers/gateway.js';

describe('cli/common', () => {
  it('--dev-mint-port moves the development mint and the trusted mint URLs that named it, no other', () => {
    const config = testConfig({ devMint: { enabled: true, port: 3338 }, payment: { mints: ['http://127.0.0.1:3338', 'http://localhost:3338', 'https://mint.example.com', 'http://127.0.0.1:4000'] } });
    moveDevMint(config, 4338);
    assert.equal(config.devMint.port, 4338);
    assert.deepEqual(config.payment.mints, ['http://127.0.0.1:4338', 'http://localhost:4338', 'https://mint.example.com', 'http://127.0.0.1:4000']);
    assert.throws(() => moveDevMint(config, 70000), /--dev-mint-port: not a port/);
  });

  it('prints a store URL without its password', () => {
    assert.equal(printableStoreUrl('postgres://owlrun:s3cret@db:5432/owlrun'), 'postgres://owlrun:***@db:5432/owlrun');
    assert.equal(printableStoreUrl('sqlite:data/owlrun.db'), 'sqlite:data/owlrun.db');
  });
});
