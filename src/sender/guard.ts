/**
 * SSRF guard: a webhook may reach only public addresses, or those inside ORBIT_ALLOW_PRIVATE_NETWORKS.
 * Checked at connect time on the addresses actually dialled, so DNS rebinding cannot slip through.
 */
import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { parseIp, refusedRange, type Cidr, type IpAddress } from '../domain/network.ts';

/** Carries a refusal through undici's connect path; the sender maps it to kind `blocked`. */
export class BlockedAddressError extends Error {
  readonly code = 'ORBIT_BLOCKED';
  constructor(message: string) {
    super(message);
    this.name = 'BlockedAddressError';
  }
}

/** The refusal message for an address, or null when it may be reached. */
export function refusal(address: IpAddress, allowed: readonly Cidr[], host?: string): string | null {
  const range = refusedRange(address, allowed);
  if (range === null) return null;
  // Suggest the narrowest CIDR that allows exactly this address (the IPv4 inside a mapped one).
  const inner = address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress() ? address.toIPv4Address() : address;
  const cidr = `${inner.toString()}/${inner.kind() === 'ipv4' ? 32 : 128}`;
  const subject =
    host !== undefined && host !== address.toString()
      ? `host ${host} resolves to address ${address.toString()}, which`
      : `address ${address.toString()}`;
  return `${subject} is ${range}; set ORBIT_ALLOW_PRIVATE_NETWORKS=${cidr} to allow it`;
}

/** Checks a URL's hostname when it is an IP literal (those never reach the lookup hook). */
export function refuseIpLiteral(hostname: string, allowed: readonly Cidr[]): string | null {
  const address = parseIp(hostname);
  return address === null ? null : refusal(address, allowed);
}

/**
 * A `lookup` for net/tls.connect: resolves once, refuses the host if ANY address is refused (a name
 * mixing public and private answers is suspect), and hands back only the addresses it checked.
 */
export function guardedLookup(allowed: readonly Cidr[]): net.LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      for (const entry of addresses) {
        const address = parseIp(entry.address);
        const message =
          address === null ? `host ${hostname} resolved to an unparsable address ${entry.address}` : refusal(address, allowed, hostname);
        if (message !== null) return callback(new BlockedAddressError(message), []);
      }
      const first = addresses[0];
      if (first === undefined) {
        const empty: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
        empty.code = 'ENOTFOUND';
        return callback(empty, []);
      }
      if (options.all === true) return callback(null, addresses);
      return callback(null, first.address, first.family);
    });
  };
}

/** Defence in depth at the connector: an IP-literal hostname is checked again right before dialling. */
export function refuseLiteralAtConnect(hostname: string, allowed: readonly Cidr[]): BlockedAddressError | null {
  if (net.isIP(hostname) === 0) return null;
  const address = parseIp(hostname);
  // Node would dial it but we cannot judge it (e.g. a zone id): refuse rather than guess.
  if (address === null) return new BlockedAddressError(`address ${hostname} cannot be checked; it is refused`);
  const message = refusal(address, allowed);
  return message === null ? null : new BlockedAddressError(message);
}
