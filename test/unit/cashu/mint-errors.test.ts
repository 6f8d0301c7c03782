import assert from 'node:assert/strict';
import { GatewayError } from '../../../src/errors.js';
import { MintRequestError } from '../../../src/cashu/mint-client.js';
import { gatewayErrorOf } from '../../../src/cashu/mint-errors.js';
import { normalizeMintUrl, tryNormalizeMintUrl } from '../../../src/cashu/mint-url.js';

const protocol = (code: number) => new MintRequestError('swap', 'protocol', false, 'x', 400, code);

describe('cashu/mint-errors and mint-url', () => {
  it('maps NUT error codes to gateway codes', () => {
    const cases: Array<[number, string]> = [
      [11001, 'cashu_token_spent'], [11002, 'cashu_token_pending'], [10001, 'cashu_proofs_invalid'],
      [10003, 'cashu_proofs_invalid'], [11005, 'cashu_proofs_invalid'], [11006, 'cashu_proofs_invalid'],
      [12001, 'cashu_keyset_unknown'], [12002, 'cashu_keyset_unknown'], [11007, 'cashu_token_duplicate_proofs'],
      [11003, 'internal_error'], [10000, 'cashu_proofs_invalid'],
    ];
    for (const [nut, code] of cases) assert.equal(gatewayErrorOf(protocol(nut)).code, code, String(nut));
  });

  it('network failures, 5xx and 429 → cashu_mint_unreachable; other 4xx → cashu_proofs_invalid', () => {
    assert.equal(gatewayErrorOf(new MintRequestError('swap', 'network', true, 'x')).code, 'cashu_mint_unreachable');
    assert.equal(gatewayErrorOf(new MintRequestError('swap', 'http', true, 'x', 502)).code, 'cashu_mint_unreachable');
    assert.equal(gatewayErrorOf(new MintRequestError('swap', 'http', false, 'x', 429)).code, 'cashu_mint_unreachable');
    assert.equal(gatewayErrorOf(new MintRequestError('swap', 'http', false, 'x', 422)).code, 'cashu_proofs_invalid');
    assert.equal(gatewayErrorOf(new GatewayError('cashu_token_spent')).code, 'cashu_token_spent');
    assert.equal(gatewayErrorOf(new Error('boom')).code, 'internal_error');
  });

  it('normalizes mint URLs: host case, trailing slashes, default port; keeps path case', () => {
    assert.equal(normalizeMintUrl('HTTPS://Mint.Example.COM/'), 'https://mint.example.com');
    assert.equal(normalizeMintUrl('http://127.0.0.1:3338//'), 'http://127.0.0.1:3338');
    assert.equal(normalizeMintUrl('https://mint.example.com:443/Cashu/'), 'https://mint.example.com/Cashu');
    assert.equal(tryNormalizeMintUrl('ftp://x'), null);
    assert.equal(tryNormalizeMintUrl('not a url'), null);
    assert.equal(tryNormalizeMintUrl('https://u:p@mint'), null);
  });
});
