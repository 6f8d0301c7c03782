import assert from 'node:assert/strict';
import { addressClass, endpointKey, normalizeAddress, resolveHost } from '../../../src/net/addresses.js';

describe('net/addresses: judged by the address, not its spelling', () => {
  it('classifies loopback, unspecified, link-local, private and reserved addresses, IPv4 and IPv6', () => {
    const cases: [string, string][] = [
      ['127.0.0.1', 'loopback'], ['127.255.0.9', 'loopback'], ['::1', 'loopback'], ['[::1]', 'loopback'],
      ['0.0.0.0', 'unspecified'], ['0.1.2.3', 'unspecified'], ['::', 'unspecified'],
      ['169.254.169.254', 'link-local'], ['fe80::1', 'link-local'],
      ['10.1.2.3', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['192.168.0.10', 'private'], ['100.64.0.1', 'private'], ['fd00::1', 'private'], ['fc12::1', 'private'],
      ['224.0.0.1', 'reserved'], ['255.255.255.255', 'reserved'], ['192.0.2.1', 'reserved'], ['2001:db8::1', 'reserved'], ['ff02::1', 'reserved'], ['not-an-ip', 'reserved'],
      ['8.8.8.8', 'public'], ['172.32.0.1', 'public'], ['2606:4700::1111', 'public'],
    ];
    for (const [ip, c] of cases) assert.equal(addressClass(ip), c, ip);
  });

  it('sees the IPv4 address inside IPv4-mapped, NAT64 and 6to4 IPv6 addresses', () => {
    assert.equal(addressClass('::ffff:127.0.0.1'), 'loopback');
    assert.equal(addressClass('::ffff:7f00:1'), 'loopback');
    assert.equal(addressClass('0:0:0:0:0:ffff:a9fe:a9fe'), 'link-local');
    assert.equal(addressClass('64:ff9b::10.0.0.1'), 'private');
    assert.equal(addressClass('2002:c0a8:0101::1'), 'private', '6to4 of 192.168.1.1');
    assert.equal(addressClass('::ffff:8.8.8.8'), 'public');
    assert.equal(normalizeAddress('::ffff:7f00:1'), '127.0.0.1');
    assert.equal(normalizeAddress('0:0:0:0:0:0:0:1'), '::1');
    assert.equal(endpointKey('[0:0::1]', 80), endpointKey('::1', 80));
  });

  it('resolves names and literals (URL-normalized: 127.1 is 127.0.0.1) to every address', async () => {
    assert.deepEqual(await resolveHost(new URL('http://127.1:8/').hostname, 1000), ['127.0.0.1']);
    assert.deepEqual(await resolveHost(new URL('http://0x7f.1/').hostname, 1000), ['127.0.0.1']);
    assert.deepEqual(await resolveHost(new URL('http://[::ffff:127.0.0.1]/').hostname, 1000), ['127.0.0.1']);
    const local = await resolveHost('localhost', 2000);
    assert.ok(local.length > 0 && local.every((a) => addressClass(a) === 'loopback'), local.join());
    await assert.rejects(resolveHost('no-such-host.invalid', 2000));
  });
});
