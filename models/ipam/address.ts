// Pure address arithmetic for Syncord's IPAM: parsing and canonical formatting of IPv4/IPv6
// addresses and CIDRs, usable ranges, OVN exclude_ips syntax, free-address search and MACs.
// Addresses are BigInts (the numeric value of the address) so IPv4 and IPv6 share one code path.
// No database code lives here.
//
// Decisions:
// - IPv4 text is strict dotted decimal: four octets, no leading zeros ("010.0.0.1" is refused,
//   since some parsers read it as octal).
// - IPv6 text follows RFC 4291 section 2.2 (including a trailing embedded dotted IPv4, as in
//   "64:ff9b::192.0.2.1"); zone indices ("fe80::1%eth0") are refused. Output is RFC 5952.
// - IPv4-mapped IPv6 addresses (::ffff:0:0/96) are refused when parsed: an interface address is
//   either IPv4 or IPv6, and the mapped form would let one address be stored twice. The error
//   names the IPv4 address to write instead. formatAddress still prints such a value (in the
//   RFC 5952 section 5 mixed form, "::ffff:10.0.0.1") so that it can appear in messages.
// - Errors in text supplied by a user are AddressError; misuse by a caller (an out-of-range
//   BigInt, a range with first > last) is RangeError.
import { randomBytes } from 'node:crypto';

/** An IP version. */
export type Family = 4 | 6;

/** An inclusive range of addresses of one family. */
export interface AddressRange {
  first: bigint;
  last: bigint;
}

/** A parsed CIDR block. */
export interface Subnet {
  family: Family;
  /** Canonical text, e.g. "10.0.0.0/24", "fd00::/64". */
  cidr: string;
  /** The network (lowest) address. */
  network: bigint;
  prefix: number;
  /** The number of addresses in the block, 2^(bits - prefix). */
  size: bigint;
}

/** A user-supplied value that is not a valid address, CIDR, range or MAC, and why. */
export class AddressError extends Error {
  override readonly name = 'AddressError';
  readonly value: string;
  readonly reason: string;

  constructor(value: string, reason: string) {
    super(`${value}: ${reason}`);
    this.value = value;
    this.reason = reason;
  }
}

/** The number of bits in an address of the family: 32 or 128. */
export function addressBits(family: Family): number {
  return family === 4 ? 32 : 128;
}

/** The largest address value of the family. */
function maxAddress(family: Family): bigint {
  return (1n << BigInt(addressBits(family))) - 1n;
}

/** True when the family-6 value lies in ::ffff:0:0/96 (an IPv4-mapped IPv6 address). */
function isIPv4Mapped(value: bigint): boolean {
  return value >> 32n === 0xffffn;
}

/** Parses strict dotted-decimal IPv4 text; errors name `whole`, the text the user wrote. */
function parseIPv4(text: string, whole: string): bigint {
  const octets = text.split('.');
  if (octets.length !== 4) {
    throw new AddressError(whole, 'not an IPv4 address (expected four dotted decimal octets)');
  }
  let value = 0n;
  for (const octet of octets) {
    if (!/^[0-9]{1,3}$/.test(octet)) {
      throw new AddressError(whole, `not an IPv4 address (bad octet "${octet}")`);
    }
    if (octet.length > 1 && octet.startsWith('0')) {
      throw new AddressError(
        whole,
        `octet "${octet}" has a leading zero, which some parsers read as octal`,
      );
    }
    const n = Number(octet);
    if (n > 255) throw new AddressError(whole, `octet ${octet} is over 255`);
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

/**
 * The 16-bit groups of one side of an IPv6 address ("" gives none). When `allowIPv4`, the last
 * piece may be dotted IPv4, which counts as two groups.
 */
function ipv6Groups(part: string, allowIPv4: boolean, whole: string): number[] {
  if (part === '') return [];
  const pieces = part.split(':');
  const groups: number[] = [];
  pieces.forEach((piece, i) => {
    if (allowIPv4 && i === pieces.length - 1 && piece.includes('.')) {
      const v4 = Number(parseIPv4(piece, whole));
      groups.push(Math.floor(v4 / 0x10000), v4 % 0x10000);
      return;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) {
      throw new AddressError(
        whole,
        piece === ''
          ? 'not an IPv6 address (stray ":")'
          : `not an IPv6 address (bad group "${piece}")`,
      );
    }
    groups.push(parseInt(piece, 16));
  });
  return groups;
}

/** Parses IPv6 text per RFC 4291 section 2.2 (no zone index). */
function parseIPv6(text: string): bigint {
  if (text.includes('%')) throw new AddressError(text, 'IPv6 zone indices are not allowed');
  const halves = text.split('::');
  let groups: number[];
  if (halves.length === 1) {
    groups = ipv6Groups(text, true, text);
    if (groups.length !== 8) {
      throw new AddressError(text, `not an IPv6 address (${groups.length} groups, expected 8)`);
    }
  } else if (halves.length === 2) {
    const head = ipv6Groups(halves[0] ?? '', false, text);
    const tail = ipv6Groups(halves[1] ?? '', true, text);
    const missing = 8 - head.length - tail.length;
    if (missing < 1) throw new AddressError(text, 'not an IPv6 address (too many groups)');
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    throw new AddressError(text, 'not an IPv6 address (more than one "::")');
  }
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

/**
 * Parses one IPv4 or IPv6 address (no prefix, no surrounding whitespace). Throws AddressError for
 * anything else, including IPv4-mapped IPv6 addresses (the error names the IPv4 form to use).
 */
export function parseAddress(text: string): { family: Family; value: bigint } {
  if (text.includes(':')) {
    const value = parseIPv6(text);
    if (isIPv4Mapped(value)) {
      throw new AddressError(
        text,
        `IPv4-mapped IPv6 addresses are not accepted; use ${formatAddress(4, value & 0xffffffffn)}`,
      );
    }
    return { family: 6, value };
  }
  if (text.includes('.')) return { family: 4, value: parseIPv4(text, text) };
  throw new AddressError(text, 'not an IP address');
}

/** Canonical IPv4 text: dotted decimal. */
function formatIPv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => ((value >> shift) & 0xffn).toString()).join('.');
}

/** Canonical IPv6 text per RFC 5952 (mixed notation for IPv4-mapped values, section 5). */
function formatIPv6(value: bigint): string {
  if (isIPv4Mapped(value)) return `::ffff:${formatIPv4(value & 0xffffffffn)}`;
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  // The longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

/**
 * Canonical text of an address: dotted decimal for IPv4, RFC 5952 for IPv6 (lower case, no
 * leading zeros, the longest run of two or more zero groups compressed). Throws RangeError if
 * the value does not fit the family.
 */
export function formatAddress(family: Family, value: bigint): string {
  if (value < 0n || value > maxAddress(family)) {
    throw new RangeError(`${value.toString()} is not an IPv${family} address value`);
  }
  return family === 4 ? formatIPv4(value) : formatIPv6(value);
}

/**
 * The subnet with the given prefix length that contains `value` (host bits are cleared).
 * Throws RangeError if the prefix is out of range for the family.
 */
export function subnetOf(family: Family, value: bigint, prefix: number): Subnet {
  const bits = addressBits(family);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) {
    throw new RangeError(`/${prefix} is not an IPv${family} prefix length`);
  }
  const size = 1n << BigInt(bits - prefix);
  const network = value & ~(size - 1n) & maxAddress(family);
  return { family, cidr: `${formatAddress(family, network)}/${prefix}`, network, prefix, size };
}

/** Splits "address/prefix" text and checks the prefix against the address family. */
function parsePrefixed(text: string): { family: Family; value: bigint; prefix: number } {
  const parts = text.split('/');
  if (parts.length === 1) throw new AddressError(text, 'missing the /prefix length');
  const [addressText = '', prefixText = ''] = parts;
  if (parts.length > 2 || !/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) {
    throw new AddressError(text, 'not an address/prefix (expected e.g. 10.0.0.0/24)');
  }
  const { family, value } = parseAddress(addressText);
  const prefix = Number(prefixText);
  if (prefix > addressBits(family)) {
    throw new AddressError(text, `prefix /${prefix} is longer than ${addressBits(family)} bits`);
  }
  return { family, value, prefix };
}

/**
 * Parses a CIDR block such as "10.0.0.0/24" or "fd00::/64". The prefix is required and the host
 * bits must be clear; otherwise the error names the network that was probably meant.
 */
export function parseCidr(text: string): Subnet {
  const { family, value, prefix } = parsePrefixed(text);
  const subnet = subnetOf(family, value, prefix);
  if (subnet.network !== value) {
    throw new AddressError(text, `host bits set; the network is ${subnet.cidr}`);
  }
  return subnet;
}

/**
 * Parses an interface address with its prefix length, as in the Multus/Kubernetes `ips` form
 * "10.0.0.5/24". Host bits may be set; `subnet` is the block the address belongs to.
 */
export function parseAddressWithPrefix(text: string): {
  family: Family;
  value: bigint;
  prefix: number;
  subnet: Subnet;
} {
  const { family, value, prefix } = parsePrefixed(text);
  return { family, value, prefix, subnet: subnetOf(family, value, prefix) };
}

/** The highest address of the subnet (the IPv4 broadcast address). */
export function lastAddress(subnet: Subnet): bigint {
  return subnet.network + subnet.size - 1n;
}

/** True when `value` (of the subnet's family) lies inside the subnet. */
export function contains(subnet: Subnet, value: bigint): boolean {
  return value >= subnet.network && value <= lastAddress(subnet);
}

/**
 * The addresses that may be given to interfaces. IPv4: all but the network and broadcast
 * addresses, except /31 and /32 where every address is usable (RFC 3021). IPv6: all but the
 * subnet-router anycast address (the network address), except /127 and /128 (RFC 6164).
 */
export function usableRange(subnet: Subnet): AddressRange {
  const first = subnet.network;
  const last = lastAddress(subnet);
  const hostBits = addressBits(subnet.family) - subnet.prefix;
  if (hostBits <= 1) return { first, last };
  return { first: first + 1n, last: subnet.family === 4 ? last - 1n : last };
}

/** The default gateway Syncord assigns: the first usable address. */
export function defaultGateway(subnet: Subnet): bigint {
  return usableRange(subnet).first;
}

/**
 * The ranges sorted by first address with overlapping and adjacent ranges merged into one.
 * Throws RangeError for a range whose first address is after its last.
 */
export function mergeRanges(ranges: readonly AddressRange[]): AddressRange[] {
  for (const r of ranges) {
    if (r.first > r.last) {
      throw new RangeError(`range ${r.first.toString()}..${r.last.toString()} runs backwards`);
    }
  }
  const sorted = [...ranges].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const merged: AddressRange[] = [];
  for (const r of sorted) {
    const top = merged.at(-1);
    if (top && r.first <= top.last + 1n) {
      if (r.last > top.last) top.last = r.last;
    } else {
      merged.push({ first: r.first, last: r.last });
    }
  }
  return merged;
}

/** Parses one exclude_ips address, which must be in the subnet; errors name the whole item. */
function parseExcludeAddress(subnet: Subnet, text: string, item: string): bigint {
  let parsed: { family: Family; value: bigint };
  try {
    parsed = parseAddress(text);
  } catch (err) {
    if (err instanceof AddressError && text !== item) throw new AddressError(item, err.message);
    throw err;
  }
  if (parsed.family !== subnet.family) {
    throw new AddressError(item, `IPv${parsed.family} address in IPv${subnet.family} subnet`);
  }
  if (!contains(subnet, parsed.value)) throw new AddressError(item, `not inside ${subnet.cidr}`);
  return parsed.value;
}

/**
 * Parses OVN's `other_config:exclude_ips` syntax: whitespace-separated items, each an address or
 * an inclusive range "A..B". Every address must lie inside the subnet and each range must have
 * first <= last; errors name the offending item. Ranges are returned in the order written,
 * unmerged (see mergeRanges). Empty or blank text gives no ranges.
 */
export function parseExcludeIps(subnet: Subnet, text: string): AddressRange[] {
  const items = text.split(/\s+/).filter((item) => item !== '');
  return items.map((item) => {
    const ends = item.split('..');
    if (ends.length > 2 || ends.includes('')) {
      throw new AddressError(item, 'not an address or an A..B range');
    }
    const [firstText = '', lastText = firstText] = ends;
    const first = parseExcludeAddress(subnet, firstText, item);
    const last = parseExcludeAddress(subnet, lastText, item);
    if (first > last) throw new AddressError(item, 'range runs backwards (first is after last)');
    return { first, last };
  });
}

/**
 * Formats ranges in OVN's exclude_ips syntax: sorted, overlapping and adjacent ranges merged,
 * a single address where first == last, "A..B" otherwise, separated by one space ("" for none).
 */
export function formatExcludeIps(family: Family, ranges: readonly AddressRange[]): string {
  return mergeRanges(ranges)
    .map(({ first, last }) =>
      first === last
        ? formatAddress(family, first)
        : `${formatAddress(family, first)}..${formatAddress(family, last)}`,
    )
    .join(' ');
}

/**
 * The lowest usable address >= `start` (default: the first usable address; a start below it is
 * raised to it) that is in no reserved range and for which `isTaken` is false; undefined when
 * there is none. Reserved ranges are skipped whole, and `isTaken` is asked only about addresses
 * outside them, so the cost is O(reserved ranges log reserved ranges + taken addresses visited).
 */
export function firstFree(
  subnet: Subnet,
  reserved: readonly AddressRange[],
  isTaken: (value: bigint) => boolean,
  start?: bigint,
): bigint | undefined {
  const usable = usableRange(subnet);
  let candidate = start === undefined || start < usable.first ? usable.first : start;
  const blocks = mergeRanges(reserved);
  let next = 0;
  while (candidate <= usable.last) {
    let block = blocks[next];
    while (block && block.last < candidate) block = blocks[++next];
    if (block && block.first <= candidate) {
      candidate = block.last + 1n;
    } else if (isTaken(candidate)) {
      candidate++;
    } else {
      return candidate;
    }
  }
  return undefined;
}

/**
 * The number of usable addresses that are not reserved. Reserved ranges may overlap each other
 * and may extend outside the usable range; each usable address is counted once.
 */
export function countUsable(subnet: Subnet, reserved: readonly AddressRange[]): bigint {
  const usable = usableRange(subnet);
  let count = usable.last - usable.first + 1n;
  for (const r of mergeRanges(reserved)) {
    const first = r.first > usable.first ? r.first : usable.first;
    const last = r.last < usable.last ? r.last : usable.last;
    if (first <= last) count -= last - first + 1n;
  }
  return count;
}

const MAC_PATTERN = /^[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}$/i;

/**
 * A unicast MAC address in lower-case colon form ("0a:58:0a:00:00:05"). Accepts six two-digit
 * hex octets separated consistently by ":" or "-", in either case. Throws AddressError for other
 * text, for a multicast MAC (low bit of the first octet set, which includes broadcast) and for
 * the all-zero MAC.
 */
export function normalizeMac(text: string): string {
  if (!MAC_PATTERN.test(text)) {
    throw new AddressError(text, 'not a MAC address (expected six hex octets separated by : or -)');
  }
  const mac = text.toLowerCase().replaceAll('-', ':');
  if (parseInt(mac.slice(0, 2), 16) & 1) {
    throw new AddressError(text, 'multicast MAC (low bit of the first octet is set)');
  }
  if (mac === '00:00:00:00:00:00') throw new AddressError(text, 'all-zero MAC');
  return mac;
}

/** The MAC in upper-case colon form, as ONOS writes MACs; validated as by normalizeMac. */
export function macToOnos(mac: string): string {
  return normalizeMac(mac).toUpperCase();
}

/**
 * A random locally administered unicast MAC "0a:58:xx:xx:xx:xx". The four octets come from
 * node:crypto randomBytes, or, when given, from `random` (a Math.random-like source returning
 * numbers in [0, 1), one call per octet). Throws RangeError if `random` leaves [0, 1).
 */
export function randomMac(random?: () => number): string {
  const octets: number[] = random
    ? Array.from({ length: 4 }, () => {
        const r = random();
        if (!(r >= 0 && r < 1)) throw new RangeError(`random source returned ${r}, not in [0, 1)`);
        return Math.floor(r * 256);
      })
    : [...randomBytes(4)];
  return [0x0a, 0x58, ...octets].map((o) => o.toString(16).padStart(2, '0')).join(':');
}

/** The same MAC however cased. */
export const sameMac = (a: unknown, b: unknown): boolean =>
  typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();

/** The same address however written ("fd00::5" and "fd00:0::5"; a prefix length is ignored). */
export function sameIp(a: unknown, b: unknown): boolean {
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  try {
    const x = parseAddress(a.split('/')[0]!);
    const y = parseAddress(b.split('/')[0]!);
    return x.family === y.family && x.value === y.value;
  } catch {
    return false;
  }
}
