// IPAM address arithmetic: parsing, canonical text, usable ranges, exclude_ips, free-address
// search and MACs. Pure functions, no database.
import { expect } from 'chai';
import {
  AddressError,
  contains,
  countUsable,
  defaultGateway,
  firstFree,
  formatAddress,
  formatExcludeIps,
  lastAddress,
  macToOnos,
  mergeRanges,
  normalizeMac,
  parseAddress,
  parseAddressWithPrefix,
  parseCidr,
  parseExcludeIps,
  randomMac,
  subnetOf,
  usableRange,
  type AddressRange,
  type Family,
  type Subnet,
} from '../../models/ipam/address.js';

/** The value of an address written as text (test shorthand). */
function ip(text: string): bigint {
  return parseAddress(text).value;
}

/** The AddressError thrown by `fn`; fails the test if it throws nothing or something else. */
function addressErrorOf(fn: () => unknown): AddressError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(AddressError);
    return err as AddressError;
  }
  expect.fail('expected an AddressError');
}

/** Formats a usable range as text, for readable assertions. */
function rangeText(family: Family, r: AddressRange): string {
  return `${formatAddress(family, r.first)}..${formatAddress(family, r.last)}`;
}

const never = (): boolean => false;

describe('IPAM addresses', () => {
  describe('AddressError', () => {
    it('carries the value and the reason and reads "value: reason"', () => {
      const e = new AddressError('10.0.0.300', 'octet 300 is over 255');
      expect(e).to.be.instanceOf(Error);
      expect(e.value).to.equal('10.0.0.300');
      expect(e.reason).to.equal('octet 300 is over 255');
      expect(e.message).to.equal('10.0.0.300: octet 300 is over 255');
      expect(e.name).to.equal('AddressError');
    });
  });

  describe('parsing and formatting IPv4 addresses', () => {
    it('reads dotted decimal into its numeric value and writes it back', () => {
      expect(parseAddress('10.0.0.1')).to.deep.equal({ family: 4, value: 0x0a000001n });
      expect(parseAddress('0.0.0.0')).to.deep.equal({ family: 4, value: 0n });
      expect(parseAddress('255.255.255.255')).to.deep.equal({ family: 4, value: 0xffffffffn });
      expect(formatAddress(4, 0xc0a80101n)).to.equal('192.168.1.1');
      expect(formatAddress(4, 0n)).to.equal('0.0.0.0');
    });

    it('refuses octets over 255, naming the octet', () => {
      const e = addressErrorOf(() => parseAddress('10.0.0.256'));
      expect(e.value).to.equal('10.0.0.256');
      expect(e.reason).to.match(/256 is over 255/);
    });

    it('refuses leading zeros, which some parsers read as octal', () => {
      expect(addressErrorOf(() => parseAddress('010.0.0.1')).reason).to.match(/leading zero/);
      expect(addressErrorOf(() => parseAddress('10.0.0.00')).reason).to.match(/leading zero/);
    });

    it('refuses the wrong number of octets and non-decimal octets', () => {
      for (const text of [
        '10.0.0',
        '10.0.0.1.2',
        '10.0.0.',
        '.10.0.0.1',
        '10.0.0.x',
        '10.0.0.-1',
      ]) {
        expect(() => parseAddress(text), text).to.throw(AddressError, /not an IPv4 address/);
      }
      expect(() => parseAddress('0x0a.0.0.1')).to.throw(AddressError);
    });

    it('refuses junk, empty text and surrounding whitespace', () => {
      for (const text of ['', 'banana', '10', ' 10.0.0.1', '10.0.0.1 ', '10.0.0.1/24']) {
        expect(() => parseAddress(text), JSON.stringify(text)).to.throw(AddressError);
      }
      expect(addressErrorOf(() => parseAddress('banana')).reason).to.equal('not an IP address');
    });

    it('refuses to format a value that does not fit the family', () => {
      expect(() => formatAddress(4, 1n << 32n)).to.throw(RangeError);
      expect(() => formatAddress(4, -1n)).to.throw(RangeError);
      expect(() => formatAddress(6, 1n << 128n)).to.throw(RangeError);
    });
  });

  describe('parsing and formatting IPv6 addresses', () => {
    it('reads the compressed and full forms into the same value', () => {
      const full = parseAddress('2001:0db8:0000:0000:0000:0000:0000:0001');
      expect(full).to.deep.equal(parseAddress('2001:db8::1'));
      expect(full.family).to.equal(6);
      expect(full.value).to.equal((0x20010db8n << 96n) | 1n);
    });

    it('reads "::", "::1" and trailing "::" forms', () => {
      expect(ip('::')).to.equal(0n);
      expect(ip('::1')).to.equal(1n);
      expect(ip('fd00::')).to.equal(0xfd00n << 112n);
      expect(ip('1:2:3:4:5:6:7::')).to.equal(ip('1:2:3:4:5:6:7:0'));
      expect(ip('::2:3:4:5:6:7:8')).to.equal(ip('0:2:3:4:5:6:7:8'));
    });

    it('accepts upper-case hex and writes lower case', () => {
      expect(formatAddress(6, ip('2001:DB8::ABCD'))).to.equal('2001:db8::abcd');
    });

    it('IPv6 canonical form compresses the longest zero run', () => {
      expect(formatAddress(6, ip('2001:db8:0:0:1:0:0:0'))).to.equal('2001:db8:0:0:1::');
      expect(formatAddress(6, ip('2001:0:0:1:0:0:0:1'))).to.equal('2001:0:0:1::1');
    });

    it('compresses the first of two equally long zero runs', () => {
      expect(formatAddress(6, ip('2001:db8:0:0:1:0:0:1'))).to.equal('2001:db8::1:0:0:1');
    });

    it('does not compress a single zero group, and drops leading zeros', () => {
      expect(formatAddress(6, ip('2001:db8:0:1:1:1:1:1'))).to.equal('2001:db8:0:1:1:1:1:1');
      expect(formatAddress(6, ip('2001:0db8:00aa:0001::0001'))).to.equal('2001:db8:aa:1::1');
    });

    it('writes the all-zero, loopback and all-ones addresses canonically', () => {
      expect(formatAddress(6, 0n)).to.equal('::');
      expect(formatAddress(6, 1n)).to.equal('::1');
      expect(formatAddress(6, (1n << 128n) - 1n)).to.equal(
        'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      );
      expect(formatAddress(6, 1n << 112n)).to.equal('1::');
    });

    it('accepts a trailing embedded IPv4 address (e.g. NAT64) and writes it in hex', () => {
      expect(ip('64:ff9b::192.0.2.1')).to.equal(ip('64:ff9b::c000:201'));
      expect(formatAddress(6, ip('64:ff9b::192.0.2.1'))).to.equal('64:ff9b::c000:201');
    });

    it('refuses IPv4-mapped addresses, naming the IPv4 address to use', () => {
      for (const text of ['::ffff:10.0.0.1', '::ffff:a00:1', '0:0:0:0:0:ffff:0a00:0001']) {
        const e = addressErrorOf(() => parseAddress(text));
        expect(e.value).to.equal(text);
        expect(e.reason)
          .to.match(/IPv4-mapped/)
          .and.to.match(/use 10\.0\.0\.1$/);
      }
    });

    it('writes an IPv4-mapped value in the RFC 5952 mixed form, for messages', () => {
      expect(formatAddress(6, 0xffff0a000001n)).to.equal('::ffff:10.0.0.1');
    });

    it('refuses zone indices, repeated "::", too many or too few groups, and junk', () => {
      const cases: Array<[string, RegExp]> = [
        ['fe80::1%eth0', /zone/],
        ['1::2::3', /more than one "::"/],
        ['1:2:3:4:5:6:7:8:9', /9 groups/],
        ['1:2:3:4:5:6:7', /7 groups/],
        ['1:2:3:4::5:6:7:8', /too many groups/],
        ['12345::1', /bad group "12345"/],
        ['g::1', /bad group "g"/],
        [':1:2:3:4:5:6:7', /stray ":"/],
        ['1:2:3:4:5:6:7:', /stray ":"/],
        [':::', /stray ":"|more than one/],
        ['1.2.3.4::', /bad group "1\.2\.3\.4"/],
        ['::1.2.3', /not an IPv4 address/],
        ['::1.2.3.4:5', /bad group/],
      ];
      for (const [text, reason] of cases) {
        const e = addressErrorOf(() => parseAddress(text));
        expect(e.value, text).to.equal(text);
        expect(e.reason, text).to.match(reason);
      }
    });

    it('round-trips canonical text unchanged', () => {
      for (const text of [
        '::',
        '::1',
        'fd00::',
        'fd00::1:0:0:1',
        '2001:db8:1:2:3:4:5:6',
        'fe80::1',
      ]) {
        expect(formatAddress(6, ip(text)), text).to.equal(text);
      }
    });
  });

  describe('parsing CIDRs', () => {
    it('reads an IPv4 CIDR into family, canonical text, network, prefix and size', () => {
      expect(parseCidr('10.0.0.0/24')).to.deep.equal({
        family: 4,
        cidr: '10.0.0.0/24',
        network: 0x0a000000n,
        prefix: 24,
        size: 256n,
      });
    });

    it('reads an IPv6 CIDR and writes it canonically', () => {
      expect(parseCidr('FD00:0000::/64')).to.deep.equal({
        family: 6,
        cidr: 'fd00::/64',
        network: 0xfd00n << 112n,
        prefix: 64,
        size: 1n << 64n,
      });
    });

    it('refuses 10.0.0.5/24 because host bits are set, naming the network', () => {
      const e = addressErrorOf(() => parseCidr('10.0.0.5/24'));
      expect(e.message).to.equal('10.0.0.5/24: host bits set; the network is 10.0.0.0/24');
    });

    it('refuses an IPv6 CIDR with host bits set, naming the canonical network', () => {
      expect(() => parseCidr('fd00::1/64')).to.throw(
        AddressError,
        'fd00::1/64: host bits set; the network is fd00::/64',
      );
    });

    it('accepts the IPv4 edges /0 and /32', () => {
      const all = parseCidr('0.0.0.0/0');
      expect(all.size).to.equal(1n << 32n);
      expect(all.cidr).to.equal('0.0.0.0/0');
      const host = parseCidr('10.1.2.3/32');
      expect(host.size).to.equal(1n);
      expect(host.network).to.equal(ip('10.1.2.3'));
    });

    it('accepts the IPv6 edges /0 and /128', () => {
      expect(parseCidr('::/0').size).to.equal(1n << 128n);
      const host = parseCidr('fd00::5/128');
      expect(host.size).to.equal(1n);
      expect(host.cidr).to.equal('fd00::5/128');
    });

    it('refuses 0.0.0.0/0 written with host bits, e.g. 10.0.0.0/0', () => {
      expect(() => parseCidr('10.0.0.0/0')).to.throw(AddressError, /the network is 0\.0\.0\.0\/0/);
    });

    it('refuses a prefix out of range for the family', () => {
      expect(addressErrorOf(() => parseCidr('10.0.0.0/33')).reason).to.match(/longer than 32/);
      expect(addressErrorOf(() => parseCidr('fd00::/129')).reason).to.match(/longer than 128/);
    });

    it('refuses a missing prefix, junk prefixes and junk addresses', () => {
      expect(addressErrorOf(() => parseCidr('10.0.0.0')).reason).to.match(/missing the \/prefix/);
      for (const text of [
        '10.0.0.0/',
        '10.0.0.0/-1',
        '10.0.0.0/24/8',
        '10.0.0.0/024',
        '10.0.0.0/ 24',
        '10.0.0.0/2x',
        '10.0.0.0/1000',
        '/24',
        'net/24',
        '10.0.0.256/24',
      ]) {
        expect(() => parseCidr(text), text).to.throw(AddressError);
      }
    });

    it('refuses the IPv4-mapped block ::ffff:0:0/96', () => {
      expect(() => parseCidr('::ffff:0:0/96')).to.throw(AddressError, /IPv4-mapped/);
    });
  });

  describe('addresses with a prefix (the Multus/Kubernetes ips form)', () => {
    it('reads 10.0.0.5/24 as the address, its prefix and its subnet', () => {
      const parsed = parseAddressWithPrefix('10.0.0.5/24');
      expect(parsed.family).to.equal(4);
      expect(parsed.value).to.equal(ip('10.0.0.5'));
      expect(parsed.prefix).to.equal(24);
      expect(parsed.subnet).to.deep.equal(parseCidr('10.0.0.0/24'));
    });

    it('reads an IPv6 address with a prefix', () => {
      const parsed = parseAddressWithPrefix('fd00::a/64');
      expect(parsed.family).to.equal(6);
      expect(parsed.value).to.equal(ip('fd00::a'));
      expect(parsed.subnet.cidr).to.equal('fd00::/64');
    });

    it('requires the prefix and refuses one out of range', () => {
      expect(() => parseAddressWithPrefix('10.0.0.5')).to.throw(AddressError, /missing/);
      expect(() => parseAddressWithPrefix('10.0.0.5/33')).to.throw(AddressError, /longer/);
    });
  });

  describe('subnet membership and ranges', () => {
    it('contains its network and last address and nothing outside', () => {
      const s = parseCidr('10.0.0.0/24');
      expect(contains(s, ip('10.0.0.0'))).to.be.true;
      expect(contains(s, ip('10.0.0.255'))).to.be.true;
      expect(contains(s, ip('9.255.255.255'))).to.be.false;
      expect(contains(s, ip('10.0.1.0'))).to.be.false;
      expect(lastAddress(s)).to.equal(ip('10.0.0.255'));
    });

    it('a /0 contains every address of its family', () => {
      expect(contains(parseCidr('0.0.0.0/0'), ip('255.255.255.255'))).to.be.true;
      expect(contains(parseCidr('::/0'), (1n << 128n) - 1n)).to.be.true;
    });

    it('subnetOf clears the host bits and refuses a bad prefix', () => {
      expect(subnetOf(4, ip('192.168.7.9'), 20).cidr).to.equal('192.168.0.0/20');
      expect(subnetOf(6, ip('fd00:1:2:3::9'), 48).cidr).to.equal('fd00:1:2::/48');
      expect(() => subnetOf(4, 0n, 33)).to.throw(RangeError);
      expect(() => subnetOf(6, 0n, -1)).to.throw(RangeError);
    });
  });

  describe('usable ranges and the default gateway', () => {
    const usable = (cidr: string): string => {
      const s = parseCidr(cidr);
      return rangeText(s.family, usableRange(s));
    };

    it('an IPv4 /24 excludes the network and broadcast addresses', () => {
      expect(usable('10.0.0.0/24')).to.equal('10.0.0.1..10.0.0.254');
    });

    it('an IPv4 /30 has two usable addresses', () => {
      expect(usable('10.0.0.4/30')).to.equal('10.0.0.5..10.0.0.6');
    });

    it('a /31 has two usable addresses (RFC 3021)', () => {
      expect(usable('10.0.0.6/31')).to.equal('10.0.0.6..10.0.0.7');
      expect(countUsable(parseCidr('10.0.0.6/31'), [])).to.equal(2n);
    });

    it('a /32 has its single address usable', () => {
      expect(usable('10.0.0.9/32')).to.equal('10.0.0.9..10.0.0.9');
      expect(countUsable(parseCidr('10.0.0.9/32'), [])).to.equal(1n);
    });

    it('an IPv4 /0 excludes 0.0.0.0 and 255.255.255.255', () => {
      expect(usable('0.0.0.0/0')).to.equal('0.0.0.1..255.255.255.254');
      expect(countUsable(parseCidr('0.0.0.0/0'), [])).to.equal((1n << 32n) - 2n);
    });

    it('an IPv6 /64 excludes only the subnet-router anycast address', () => {
      expect(usable('fd00::/64')).to.equal('fd00::1..fd00::ffff:ffff:ffff:ffff');
      expect(countUsable(parseCidr('fd00::/64'), [])).to.equal((1n << 64n) - 1n);
    });

    it('an IPv6 /126 keeps its last address (IPv6 has no broadcast)', () => {
      expect(usable('fd00::4/126')).to.equal('fd00::5..fd00::7');
    });

    it('an IPv6 /127 and /128 use every address', () => {
      expect(usable('fd00::/127')).to.equal('fd00::..fd00::1');
      expect(usable('fd00::7/128')).to.equal('fd00::7..fd00::7');
    });

    it('an IPv6 /0 excludes only ::', () => {
      expect(countUsable(parseCidr('::/0'), [])).to.equal((1n << 128n) - 1n);
    });

    it('the default gateway is the first usable address', () => {
      expect(formatAddress(4, defaultGateway(parseCidr('10.0.0.0/24')))).to.equal('10.0.0.1');
      expect(formatAddress(6, defaultGateway(parseCidr('fd00::/64')))).to.equal('fd00::1');
      expect(formatAddress(4, defaultGateway(parseCidr('10.0.0.6/31')))).to.equal('10.0.0.6');
    });
  });

  describe('OVN exclude_ips', () => {
    const s24 = parseCidr('10.0.0.0/24');

    it('reads single addresses and A..B ranges separated by any whitespace', () => {
      expect(parseExcludeIps(s24, ' 10.0.0.2\t10.0.0.10..10.0.0.20\n10.0.0.254 ')).to.deep.equal([
        { first: ip('10.0.0.2'), last: ip('10.0.0.2') },
        { first: ip('10.0.0.10'), last: ip('10.0.0.20') },
        { first: ip('10.0.0.254'), last: ip('10.0.0.254') },
      ]);
    });

    it('reads empty or blank text as no exclusions', () => {
      expect(parseExcludeIps(s24, '')).to.deep.equal([]);
      expect(parseExcludeIps(s24, '  \n ')).to.deep.equal([]);
    });

    it('accepts a range of one address and the subnet edges', () => {
      expect(parseExcludeIps(s24, '10.0.0.0..10.0.0.0 10.0.0.255')).to.deep.equal([
        { first: ip('10.0.0.0'), last: ip('10.0.0.0') },
        { first: ip('10.0.0.255'), last: ip('10.0.0.255') },
      ]);
    });

    it('reads IPv6 items in an IPv6 subnet', () => {
      const s = parseCidr('fd00::/64');
      expect(parseExcludeIps(s, 'fd00::2..fd00::ff')).to.deep.equal([
        { first: ip('fd00::2'), last: ip('fd00::ff') },
      ]);
    });

    it('refuses an address outside the subnet, naming the item and the subnet', () => {
      const e = addressErrorOf(() => parseExcludeIps(s24, '10.0.0.2 10.0.0.5..10.0.1.1'));
      expect(e.message).to.equal('10.0.0.5..10.0.1.1: not inside 10.0.0.0/24');
    });

    it('refuses a range that runs backwards, naming it', () => {
      const e = addressErrorOf(() => parseExcludeIps(s24, '10.0.0.9..10.0.0.3'));
      expect(e.value).to.equal('10.0.0.9..10.0.0.3');
      expect(e.reason).to.match(/backwards/);
    });

    it('refuses an address of the other family', () => {
      const e = addressErrorOf(() => parseExcludeIps(s24, 'fd00::1'));
      expect(e.message).to.equal('fd00::1: IPv6 address in IPv4 subnet');
    });

    it('refuses junk items, naming the whole item', () => {
      const cases: Array<[string, string]> = [
        ['10.0.0.2..10.0.0.x', '10.0.0.2..10.0.0.x'],
        ['10.0.0.2...10.0.0.3', '10.0.0.2...10.0.0.3'],
        ['10.0.0.1..', '10.0.0.1..'],
        ['..10.0.0.1', '..10.0.0.1'],
        ['10.0.0.1..10.0.0.2..10.0.0.3', '10.0.0.1..10.0.0.2..10.0.0.3'],
        ['10.0.0.1,10.0.0.2', '10.0.0.1,10.0.0.2'],
        ['10.0.0.1/32', '10.0.0.1/32'],
      ];
      for (const [text, item] of cases) {
        expect(addressErrorOf(() => parseExcludeIps(s24, `10.0.0.7 ${text}`)).value, text).to.equal(
          item,
        );
      }
    });

    it('writes single addresses and ranges, sorted', () => {
      const text = formatExcludeIps(4, [
        { first: ip('10.0.0.50'), last: ip('10.0.0.60') },
        { first: ip('10.0.0.2'), last: ip('10.0.0.2') },
      ]);
      expect(text).to.equal('10.0.0.2 10.0.0.50..10.0.0.60');
      expect(formatExcludeIps(4, [])).to.equal('');
    });

    it('merges overlapping, contained and adjacent ranges when writing', () => {
      const text = formatExcludeIps(4, [
        { first: ip('10.0.0.10'), last: ip('10.0.0.20') },
        { first: ip('10.0.0.15'), last: ip('10.0.0.25') },
        { first: ip('10.0.0.12'), last: ip('10.0.0.13') },
        { first: ip('10.0.0.26'), last: ip('10.0.0.26') },
        { first: ip('10.0.0.9'), last: ip('10.0.0.9') },
        { first: ip('10.0.0.40'), last: ip('10.0.0.40') },
        { first: ip('10.0.0.40'), last: ip('10.0.0.40') },
      ]);
      expect(text).to.equal('10.0.0.9..10.0.0.26 10.0.0.40');
    });

    it('round-trips: parse then format gives canonical, merged text that parses the same', () => {
      const written = '10.0.0.30  10.0.0.2..10.0.0.5 10.0.0.6 10.0.0.100..10.0.0.200 10.0.0.150';
      const text = formatExcludeIps(4, parseExcludeIps(s24, written));
      expect(text).to.equal('10.0.0.2..10.0.0.6 10.0.0.30 10.0.0.100..10.0.0.200');
      expect(formatExcludeIps(4, parseExcludeIps(s24, text))).to.equal(text);
    });

    it('writes IPv6 ranges in canonical form', () => {
      const s = parseCidr('fd00::/64');
      const text = formatExcludeIps(6, parseExcludeIps(s, 'FD00::0002..fd00:0:0:0::00ff fd00::1'));
      expect(text).to.equal('fd00::1..fd00::ff');
    });

    it('refuses to write a range that runs backwards', () => {
      expect(() => formatExcludeIps(4, [{ first: 5n, last: 4n }])).to.throw(RangeError);
    });
  });

  describe('mergeRanges', () => {
    it('sorts, merges, and does not modify its input', () => {
      const input = [
        { first: 20n, last: 30n },
        { first: 1n, last: 5n },
        { first: 6n, last: 8n },
        { first: 25n, last: 28n },
      ];
      const copy = input.map((r) => ({ ...r }));
      expect(mergeRanges(input)).to.deep.equal([
        { first: 1n, last: 8n },
        { first: 20n, last: 30n },
      ]);
      expect(input).to.deep.equal(copy);
    });
  });

  describe('firstFree', () => {
    const s24 = parseCidr('10.0.0.0/24');
    const takenSet =
      (...texts: string[]) =>
      (v: bigint): boolean =>
        texts.map(ip).includes(v);

    it('gives the first usable address of an empty subnet', () => {
      expect(firstFree(s24, [], never)).to.equal(ip('10.0.0.1'));
      expect(firstFree(parseCidr('fd00::/64'), [], never)).to.equal(ip('fd00::1'));
    });

    it('skips taken addresses', () => {
      expect(firstFree(s24, [], takenSet('10.0.0.1', '10.0.0.2'))).to.equal(ip('10.0.0.3'));
    });

    it('skips reserved ranges, including ones that touch or overlap', () => {
      const reserved = parseExcludeIps(s24, '10.0.0.1..10.0.0.9 10.0.0.10 10.0.0.5..10.0.0.12');
      expect(firstFree(s24, reserved, never)).to.equal(ip('10.0.0.13'));
    });

    it('never asks isTaken about a reserved address', () => {
      const reserved = parseExcludeIps(s24, '10.0.0.1..10.0.0.100');
      const asked: bigint[] = [];
      const result = firstFree(s24, reserved, (v) => {
        asked.push(v);
        return v < ip('10.0.0.103');
      });
      expect(result).to.equal(ip('10.0.0.103'));
      expect(asked.map((v) => formatAddress(4, v))).to.deep.equal([
        '10.0.0.101',
        '10.0.0.102',
        '10.0.0.103',
      ]);
    });

    it('alternates between reserved ranges and taken addresses', () => {
      const reserved = parseExcludeIps(s24, '10.0.0.1 10.0.0.3..10.0.0.4 10.0.0.6');
      expect(firstFree(s24, reserved, takenSet('10.0.0.2', '10.0.0.5', '10.0.0.7'))).to.equal(
        ip('10.0.0.8'),
      );
    });

    it('firstFree skips a reserved range covering most of a /8 without walking it', () => {
      const s8 = parseCidr('10.0.0.0/8');
      const size = (1n << 24n) - 10n;
      const reserved = [{ first: ip('10.0.0.1'), last: ip('10.0.0.1') + size - 1n }];
      expect(formatAddress(4, reserved[0]?.last ?? 0n)).to.equal('10.255.255.246');
      let calls = 0;
      const result = firstFree(s8, reserved, (v) => {
        calls++;
        return v === ip('10.255.255.247');
      });
      expect(formatAddress(4, result ?? 0n)).to.equal('10.255.255.248');
      expect(calls).to.equal(2);
      expect(countUsable(s8, reserved)).to.equal(8n);
    });

    it('returns undefined when full', () => {
      const s30 = parseCidr('10.0.0.4/30');
      expect(firstFree(s30, [], takenSet('10.0.0.5', '10.0.0.6'))).to.be.undefined;
      expect(firstFree(s30, parseExcludeIps(s30, '10.0.0.4..10.0.0.7'), never)).to.be.undefined;
      expect(firstFree(s30, parseExcludeIps(s30, '10.0.0.5'), takenSet('10.0.0.6'))).to.be
        .undefined;
    });

    it('returns undefined when a huge reservation and taken addresses fill a /8', () => {
      const s8 = parseCidr('10.0.0.0/8');
      const reserved = [{ first: ip('10.0.0.0'), last: ip('10.255.255.250') }];
      expect(firstFree(s8, reserved, (v) => v <= ip('10.255.255.254'))).to.be.undefined;
    });

    it('never returns the broadcast address or the IPv6 anycast address', () => {
      const s30 = parseCidr('10.0.0.4/30');
      expect(firstFree(s30, [], takenSet('10.0.0.5'), ip('10.0.0.6'))).to.equal(ip('10.0.0.6'));
      expect(firstFree(s30, [], takenSet('10.0.0.6'), ip('10.0.0.6'))).to.be.undefined;
      expect(firstFree(parseCidr('fd00::/64'), [], never, ip('fd00::'))).to.equal(ip('fd00::1'));
    });

    it('starts from the given address, raising a start below the usable range', () => {
      expect(firstFree(s24, [], never, ip('10.0.0.200'))).to.equal(ip('10.0.0.200'));
      expect(firstFree(s24, [], never, ip('9.0.0.0'))).to.equal(ip('10.0.0.1'));
      expect(firstFree(s24, [], never, ip('10.0.1.0'))).to.be.undefined;
    });

    it('starts inside a reserved range by jumping past it', () => {
      const reserved = parseExcludeIps(s24, '10.0.0.100..10.0.0.150');
      expect(firstFree(s24, reserved, never, ip('10.0.0.120'))).to.equal(ip('10.0.0.151'));
    });

    it('ignores reserved ranges below the start and beyond the subnet', () => {
      const reserved = [
        { first: ip('10.0.0.1'), last: ip('10.0.0.50') },
        { first: ip('10.0.0.250'), last: ip('10.0.2.0') },
      ];
      expect(firstFree(s24, reserved, never, ip('10.0.0.60'))).to.equal(ip('10.0.0.60'));
      expect(firstFree(s24, reserved, never, ip('10.0.0.249'))).to.equal(ip('10.0.0.249'));
      expect(firstFree(s24, reserved, never, ip('10.0.0.250'))).to.be.undefined;
    });

    it('works on a /32 and an IPv6 /128', () => {
      const s32 = parseCidr('10.0.0.9/32');
      expect(firstFree(s32, [], never)).to.equal(ip('10.0.0.9'));
      expect(firstFree(s32, [], () => true)).to.be.undefined;
      const s128 = parseCidr('fd00::9/128');
      expect(firstFree(s128, [], never)).to.equal(ip('fd00::9'));
    });

    it('skips a reservation of 2^63 addresses in an IPv6 /64 at once', () => {
      const s = parseCidr('fd00::/64');
      const reserved = [{ first: ip('fd00::1'), last: ip('fd00::') + (1n << 63n) }];
      expect(formatAddress(6, firstFree(s, reserved, never) ?? 0n)).to.equal('fd00::8000:0:0:1');
    });
  });

  describe('countUsable', () => {
    const s24 = parseCidr('10.0.0.0/24');

    it('counts the usable addresses of an unreserved subnet', () => {
      expect(countUsable(s24, [])).to.equal(254n);
    });

    it('subtracts reserved addresses, counting overlaps once', () => {
      const reserved = parseExcludeIps(s24, '10.0.0.1..10.0.0.10 10.0.0.5..10.0.0.15 10.0.0.7');
      expect(countUsable(s24, reserved)).to.equal(254n - 15n);
    });

    it('ignores reserved addresses that are not usable anyway', () => {
      const reserved = parseExcludeIps(s24, '10.0.0.0 10.0.0.255 10.0.0.250..10.0.0.255');
      expect(countUsable(s24, reserved)).to.equal(254n - 5n);
      expect(countUsable(s24, [{ first: 0n, last: ip('10.0.0.0') }])).to.equal(254n);
      expect(countUsable(s24, [{ first: ip('10.0.1.0'), last: ip('10.0.2.0') }])).to.equal(254n);
    });

    it('is zero when everything is reserved', () => {
      expect(countUsable(s24, parseExcludeIps(s24, '10.0.0.0..10.0.0.255'))).to.equal(0n);
    });

    it('agrees with firstFree counting addresses one at a time', () => {
      const s = parseCidr('10.0.0.0/27');
      const reserved = parseExcludeIps(
        s,
        '10.0.0.3..10.0.0.6 10.0.0.5..10.0.0.9 10.0.0.30 10.0.0.31',
      );
      const taken = new Set<bigint>();
      for (let v = firstFree(s, reserved, (x) => taken.has(x)); v !== undefined;) {
        taken.add(v);
        v = firstFree(s, reserved, (x) => taken.has(x), v);
      }
      expect(BigInt(taken.size)).to.equal(countUsable(s, reserved));
      expect(BigInt(taken.size)).to.equal(30n - 7n - 1n);
    });
  });

  describe('MAC addresses', () => {
    it('normalises upper-case colon and dash forms to lower-case colon form', () => {
      expect(normalizeMac('0A:58:0A:00:00:05')).to.equal('0a:58:0a:00:00:05');
      expect(normalizeMac('0a-58-0a-00-00-05')).to.equal('0a:58:0a:00:00:05');
      expect(normalizeMac('02:Ab:cD:eF:01:23')).to.equal('02:ab:cd:ef:01:23');
    });

    it('refuses a multicast MAC, naming the reason', () => {
      const e = addressErrorOf(() => normalizeMac('01:00:5e:00:00:01'));
      expect(e.value).to.equal('01:00:5e:00:00:01');
      expect(e.reason).to.match(/multicast/);
      expect(() => normalizeMac('33-33-00-00-00-01')).to.throw(AddressError, /multicast/);
    });

    it('refuses the broadcast MAC as multicast', () => {
      expect(() => normalizeMac('ff:ff:ff:ff:ff:ff')).to.throw(AddressError, /multicast/);
    });

    it('refuses the all-zero MAC', () => {
      expect(() => normalizeMac('00:00:00:00:00:00')).to.throw(AddressError, /all-zero/);
    });

    it('refuses malformed MACs', () => {
      for (const text of [
        '',
        '0a:58:0a:00:00',
        '0a:58:0a:00:00:05:06',
        '0a:58-0a:00:00:05',
        'a:58:a:0:0:5',
        '0a:58:0a:00:00:0g',
        '0a580a000005',
        '0a58.0a00.0005',
        ' 0a:58:0a:00:00:05',
      ]) {
        expect(() => normalizeMac(text), JSON.stringify(text)).to.throw(
          AddressError,
          /not a MAC address/,
        );
      }
    });

    it('writes MACs for ONOS in upper-case colon form', () => {
      expect(macToOnos('0a:58:0a:00:00:ff')).to.equal('0A:58:0A:00:00:FF');
      expect(macToOnos('0a-58-0a-00-00-ff')).to.equal('0A:58:0A:00:00:FF');
      expect(() => macToOnos('01:00:00:00:00:00')).to.throw(AddressError, /multicast/);
    });

    it('random MACs start 0a:58: and are locally administered unicast', () => {
      for (let i = 0; i < 50; i++) {
        const mac = randomMac();
        expect(mac).to.match(/^0a:58:([0-9a-f]{2}:){3}[0-9a-f]{2}$/);
        expect(normalizeMac(mac)).to.equal(mac);
        const first = parseInt(mac.slice(0, 2), 16);
        expect(first & 0x02, 'locally administered').to.equal(0x02);
        expect(first & 0x01, 'unicast').to.equal(0);
      }
    });

    it('random MACs vary', () => {
      const macs = new Set(Array.from({ length: 20 }, () => randomMac()));
      expect(macs.size).to.be.greaterThan(1);
    });

    it('a random MAC uses the given random source, one call per octet', () => {
      const values = [0, 0.5, 0.999, 1 / 256];
      let calls = 0;
      const mac = randomMac(() => values[calls++] ?? 0);
      expect(mac).to.equal('0a:58:00:80:ff:01');
      expect(calls).to.equal(4);
    });

    it('refuses a random source outside [0, 1)', () => {
      expect(() => randomMac(() => 1)).to.throw(RangeError);
      expect(() => randomMac(() => -0.1)).to.throw(RangeError);
      expect(() => randomMac(() => Number.NaN)).to.throw(RangeError);
    });
  });

  describe('subnets as data', () => {
    it('a parsed CIDR equals the block subnetOf derives from any address inside it', () => {
      const a: Subnet = parseCidr('172.16.0.0/12');
      expect(a).to.deep.equal(subnetOf(4, ip('172.31.255.255'), 12));
    });
  });
});
