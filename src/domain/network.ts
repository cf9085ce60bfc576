import ipaddr from 'ipaddr.js';

export type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;
export interface Cidr {
  range: [IpAddress, number];
  text: string;
}

export function parseCidrList(text: string): Cidr[] | null {
  const items = text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  const list: Cidr[] = [];
  for (const item of items) {
    try {
      const withBits = item.includes('/') ? item : `${item}/${ipaddr.IPv6.isValid(item) ? 128 : 32}`;
      list.push({ range: ipaddr.parseCIDR(withBits), text: item });
    } catch {
      return null;
    }
  }
  return list;
}

/** Parses an IP literal (no brackets); null when the text is not one. */
export function parseIp(text: string): IpAddress | null {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (ipaddr.IPv4.isValidFourPartDecimal(bare)) return ipaddr.IPv4.parse(bare);
  if (ipaddr.IPv6.isValid(bare)) return ipaddr.IPv6.parse(bare);
  return null;
}

const NAT64 = ipaddr.parseCIDR('64:ff9b::/96');

/** The IPv4 address hidden in an IPv4-mapped or NAT64 IPv6 address, else the address itself. */
function unwrap(address: IpAddress): IpAddress {
  if (address.kind() === 'ipv6') {
    const v6 = address as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return v6.toIPv4Address();
    if (v6.match(NAT64)) {
      const bytes = v6.toByteArray().slice(12);
      return ipaddr.fromByteArray(bytes);
    }
  }
  return address;
}

function matches(address: IpAddress, cidr: Cidr): boolean {
  const [net] = cidr.range;
  return address.kind() === net.kind() && address.match(cidr.range);
}

/** ipaddr.js's range names, as a person would say them (with their article). */
const RANGE_WORDS: Record<string, string> = {
  unspecified: 'an unspecified address (such as 0.0.0.0 or ::)',
  broadcast: 'a broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address',
  loopback: 'a loopback address',
  carrierGradeNat: 'a carrier-grade NAT (shared) address',
  private: 'a private-network address',
  uniqueLocal: 'a unique-local (private IPv6) address',
  deprecatedSiteLocal: 'a site-local (private IPv6) address',
  reserved: 'a reserved address',
  benchmarking: 'a benchmarking address',
  discard: 'a discard-only address',
};

function describeRange(range: string): string {
  return RANGE_WORDS[range] ?? `a special-purpose address (${range})`;
}

/**
 * Whether a webhook may reach this address: public unicast addresses always; any other (private,
 * loopback, link-local, CGNAT, multicast, reserved, documentation, ...) only inside an allowed CIDR.
 * Returns the refusing range in words ("a loopback address"), or null when allowed.
 */
export function refusedRange(address: IpAddress, allowed: readonly Cidr[]): string | null {
  const inner = unwrap(address);
  const range = inner.range();
  if (range === 'unicast') return null;
  if (allowed.some((cidr) => matches(inner, cidr) || matches(address, cidr))) return null;
  return describeRange(range);
}
