// SSRF guard: webhook targets must be http(s) and, unless allowed, must not resolve to loopback, private, link-local or metadata addresses.
import dns, { type LookupAddress, type LookupOptions } from 'node:dns';
import net from 'node:net';

/** Refused target; `cause` is 'ssrf' in the failure metrics. */
export class TargetRefusedError extends Error {
  override name = 'TargetRefusedError';
  readonly code = 'LEARNHOOK_TARGET_REFUSED';
}

const blocked = new net.BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  blocked.addSubnet(network, prefix, 'ipv6');
}

/** Whether an IP address is loopback, private, link-local (cloud metadata lives there), multicast or unspecified. */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return blocked.check(mapped[1], 'ipv4');
  const family = net.isIP(address);
  if (family === 0) return true;
  return blocked.check(address, family === 4 ? 'ipv4' : 'ipv6');
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

function refuse(host: string, address: string): TargetRefusedError {
  return new TargetRefusedError(
    `${host} resolves to ${address}, a loopback, private or link-local address; such targets are refused unless learnhook runs with --allow-private-targets`,
  );
}

/** Checks a target at registration: resolves its host and refuses it when any address is private. */
export async function checkTarget(text: string, allowPrivate: boolean): Promise<URL> {
  const url = parseTargetUrl(text);
  if (allowPrivate) return url;
  const host = hostOf(url);
  let addresses: LookupAddress[];
  try {
    addresses = net.isIP(host) ? [{ address: host, family: net.isIP(host) }] : await dns.promises.lookup(host, { all: true });
  } catch (error) {
    throw new TargetRefusedError(`cannot resolve ${host}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const bad = addresses.find((entry) => isPrivateAddress(entry.address));
  if (bad) throw refuse(host, bad.address);
  return url;
}

/** Refuses a literal private IP before connecting (a hostname is checked by `guardedLookup` instead). */
export function checkLiteralHost(url: URL, allowPrivate: boolean): void {
  const host = hostOf(url);
  if (!allowPrivate && net.isIP(host) && isPrivateAddress(host)) throw refuse(host, host);
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for the connection: resolves once, refuses private addresses, and hands exactly the checked
 * addresses to the socket, so a DNS answer cannot change between the check and the connect.
 */
export function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const bad = allowPrivate ? undefined : addresses.find((entry) => isPrivateAddress(entry.address));
      if (bad) return callback(refuse(hostname, bad.address) as NodeJS.ErrnoException, []);
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
      callback(null, first.address, first.family);
    });
  };
}
