// SSRF guard: webhook targets must be http(s) and, unless allowed, must not resolve to loopback, private, link-local,
// metadata or reserved addresses, also when an IPv6 address carries such an IPv4 address inside (mapped, 6to4, Teredo…).
import dns, { type LookupAddress, type LookupOptions } from 'node:dns';
import net from 'node:net';

/** Whether private targets are allowed for this URL: everywhere (`--allow-private-targets`) or for a trusted origin. */
export function allowPrivateFor(url: URL, allowPrivate: boolean, trustedOrigins: readonly string[] = []): boolean {
  return allowPrivate || trustedOrigins.includes(url.origin);
}

/** Refused target; `cause` is 'ssrf' in the failure metrics. */
export class TargetRefusedError extends Error {
  override name = 'TargetRefusedError';
  readonly code = 'LEARNHOOK_TARGET_REFUSED';
}

const blockedV4 = new net.BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blockedV4.addSubnet(network, prefix, 'ipv4');
}

/** IPv6 ranges refused whatever follows (the forms that embed an IPv4 address are decoded instead, below). */
const blockedV6 = new net.BlockList();
for (const [network, prefix] of [
  ['::1', 128],
  ['100::', 64], // discard-only
  ['64:ff9b:1::', 48], // local-use NAT64 (RFC 8215): a local network whatever it embeds
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  blockedV6.addSubnet(network, prefix, 'ipv6');
}

/** The eight 16-bit groups of a valid IPv6 address (a zone id is dropped, a trailing dotted quad read as two groups). */
function ipv6Groups(address: string): number[] {
  let text = address.split('%')[0] ?? '';
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = dotted[1].split('.').map(Number);
    text = `${text.slice(0, -dotted[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

function ipv4Of(high: number, low: number): string {
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/**
 * The IPv4 addresses an IPv6 address carries, by the standard embeddings: IPv4-mapped `::ffff:a.b.c.d`,
 * IPv4-compatible `::a.b.c.d`, SIIT `::ffff:0:a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:AABB:CCDD::`
 * and Teredo `2001:0:SERVER:…:~CLIENT` (both the relay server and the client, which is stored inverted).
 */
export function embeddedIpv4(address: string): string[] {
  const g = ipv6Groups(address);
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const zeroUpTo = (count: number) => g.slice(0, count).every((group) => group === 0);
  if (zeroUpTo(5) && (g5 === 0xffff || g5 === 0)) return [ipv4Of(g6, g7)];
  if (zeroUpTo(4) && g4 === 0xffff && g5 === 0) return [ipv4Of(g6, g7)];
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return [ipv4Of(g6, g7)];
  if (g0 === 0x2002) return [ipv4Of(g1, g2)];
  if (g0 === 0x2001 && g1 === 0) return [ipv4Of(g2, g3), ipv4Of(g6 ^ 0xffff, g7 ^ 0xffff)];
  return [];
}

/**
 * Whether an IP address is loopback, private, link-local (cloud metadata lives there), multicast, unspecified or
 * otherwise reserved, including an IPv6 address that embeds such an IPv4 address. Anything not an IP is private.
 */
export function isPrivateAddress(address: string): boolean {
  const family = net.isIP(address.split('%')[0] ?? '');
  if (family === 4) return blockedV4.check(address, 'ipv4');
  if (family === 0) return true;
  const bare = address.split('%')[0] ?? '';
  if (blockedV6.check(bare, 'ipv6')) return true;
  // `::` itself embeds 0.0.0.0, so the unspecified address is refused by the IPv4 check too.
  return embeddedIpv4(bare).some((ipv4) => blockedV4.check(ipv4, 'ipv4'));
}

function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/** Parses a target URL, refusing anything but http(s) and URLs that carry credentials. */
export function parseTargetUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TargetRefusedError(`"${text}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TargetRefusedError(`the URL must start with http:// or https://, not ${url.protocol}`);
  if (url.username || url.password) throw new TargetRefusedError('put credentials in the webhook auth, not in the URL');
  return url;
}

/** The refusal names the host as given, never the address it resolved to (that would let a caller map internal DNS). */
function refuse(host: string): TargetRefusedError {
  const what = net.isIP(host) ? `${host} is` : `${host} resolves to`;
  return new TargetRefusedError(
    `${what} a private or reserved address (loopback, private, link-local or the like); such targets are refused unless learnhook runs with --allow-private-targets`,
  );
}

/** Checks a target at registration: resolves its host and refuses it when any address is private. */
export async function checkTarget(text: string, allowPrivate: boolean, trustedOrigins: readonly string[] = []): Promise<URL> {
  const url = parseTargetUrl(text);
  if (allowPrivateFor(url, allowPrivate, trustedOrigins)) return url;
  const host = hostOf(url);
  let addresses: LookupAddress[];
  try {
    addresses = net.isIP(host) ? [{ address: host, family: net.isIP(host) }] : await dns.promises.lookup(host, { all: true });
  } catch (error) {
    throw new TargetRefusedError(`cannot resolve ${host}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const bad = addresses.find((entry) => isPrivateAddress(entry.address));
  if (bad) throw refuse(host);
  return url;
}

/** Refuses a literal private IP before connecting (a hostname is checked by `guardedLookup` instead). */
export function checkLiteralHost(url: URL, allowPrivate: boolean): void {
  const host = hostOf(url);
  if (!allowPrivate && net.isIP(host) && isPrivateAddress(host)) throw refuse(host);
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for the connection: resolves once, refuses private addresses, and hands exactly the checked
 * addresses to the socket, so a DNS answer cannot change between the check and the connect.
 */
export function guardedLookup(allowPrivate: boolean, resolve: typeof dns.lookup = dns.lookup) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    resolve(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const bad = allowPrivate ? undefined : addresses.find((entry) => isPrivateAddress(entry.address));
      if (bad) return callback(refuse(hostname) as NodeJS.ErrnoException, []);
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
      callback(null, first.address, first.family);
    });
  };
}
