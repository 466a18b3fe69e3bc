import { lookup as dnsLookup, LookupAddress, LookupOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { BlockList, isIP } from 'node:net';

/**
 * Where the worker may send requests: feeds, token realms, destinations and every redirect hop pass
 * this policy, checked on the URL and again on each address DNS gives at connect time (so a name that
 * resolves to a metadata address later is still refused).
 */
export interface OutboundPolicy {
  /** RFC 1918, CGNAT and IPv6 unique-local addresses. */
  readonly allowPrivateNetworks: boolean;
  /** 127.0.0.0/8 and ::1. */
  readonly allowLoopback: boolean;
  /**
   * Host names an administrator configured (feeds in the configuration file): reachable even on private or
   * loopback addresses. Never link-local or metadata addresses.
   */
  readonly trustedHosts?: ReadonlySet<string>;
}

/** What `npm start` on loopback allows: a developer's registries on the same machine or network. */
export const PERMISSIVE_OUTBOUND: OutboundPolicy = { allowPrivateNetworks: true, allowLoopback: true };
/** What a service on a non-loopback address gets unless configured otherwise. */
export const STRICT_OUTBOUND: OutboundPolicy = { allowPrivateNetworks: false, allowLoopback: false };

export class OutboundRefusedError extends Error {
  readonly code = 'OUTBOUND_REFUSED';
}

// Never reachable, whatever the configuration: link-local (cloud metadata lives at 169.254.169.254),
// AWS's IPv6 metadata address, "this network", multicast and reserved space.
const NEVER = new BlockList();
NEVER.addSubnet('169.254.0.0', 16, 'ipv4');
NEVER.addSubnet('0.0.0.0', 8, 'ipv4');
NEVER.addSubnet('224.0.0.0', 4, 'ipv4');
NEVER.addSubnet('240.0.0.0', 4, 'ipv4');
NEVER.addAddress('fd00:ec2::254', 'ipv6');
NEVER.addSubnet('fe80::', 10, 'ipv6');
NEVER.addSubnet('ff00::', 8, 'ipv6');
NEVER.addAddress('::', 'ipv6');

const PRIVATE = new BlockList();
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4');
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4');
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4');
PRIVATE.addSubnet('fc00::', 7, 'ipv6');

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** Why an address is refused under the policy, or null when it may be reached. */
export function refusedAddress(address: string, policy: OutboundPolicy, trusted = false): string | null {
  let ip = address.replace(/^\[|\]$/g, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) ip = mapped[1];
  const family = isIP(ip) === 6 ? 'ipv6' : isIP(ip) === 4 ? 'ipv4' : null;
  if (!family) return 'not an IP address';
  if (NEVER.check(ip, family)) return 'link-local, metadata and reserved addresses are never reached';
  if (trusted) return null;
  if (LOOPBACK.check(ip, family))
    return policy.allowLoopback ? null : 'loopback addresses are not allowed (outbound.allowLoopback)';
  if (PRIVATE.check(ip, family))
    return policy.allowPrivateNetworks
      ? null
      : 'private network addresses are not allowed (outbound.allowPrivateNetworks)';
  return null;
}

/**
 * Checks a URL before any request: http(s) only, no credentials in it, and a literal IP host must pass the
 * policy (names are checked when they resolve). Throws OutboundRefusedError.
 */
export function checkOutboundUrl(url: URL, policy: OutboundPolicy): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new OutboundRefusedError(`${url.protocol}// URLs are not allowed; use http:// or https://`);
  if (url.username !== '' || url.password !== '')
    throw new OutboundRefusedError(
      `${url.protocol}//${url.host}: credentials in a URL are not allowed; use the configuration's secrets`,
    );
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const trusted = policy.trustedHosts?.has(url.hostname.toLowerCase()) ?? false;
  if (isIP(host)) {
    const reason = refusedAddress(host, policy, trusted);
    if (reason) throw new OutboundRefusedError(`${url.host} is refused: ${reason}`);
  } else if (/^localhost\.?$/i.test(host) || /\.localhost\.?$/i.test(host)) {
    if (!policy.allowLoopback && !trusted)
      throw new OutboundRefusedError(`${url.host} is refused: loopback addresses are not allowed`);
  }
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** A `dns.lookup` for sockets that refuses every resolved address the policy forbids. */
export function guardedLookup(policy: OutboundPolicy): LookupFunction {
  return (hostname: string, options: LookupOptions, callback: LookupCallback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const trusted = policy.trustedHosts?.has(hostname.toLowerCase()) ?? false;
      for (const a of addresses) {
        const reason = refusedAddress(a.address, policy, trusted);
        if (reason) {
          const refused = new OutboundRefusedError(`${hostname} is refused: ${reason}`) as Error & {
            code: string;
          };
          return callback(refused as NodeJS.ErrnoException, []);
        }
      }
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };
}
