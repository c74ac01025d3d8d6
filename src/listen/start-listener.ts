// `learnhook listen`: a local receiver for developing against learnhook. It prints each delivery, checks the Standard
// Webhooks signature (401 when it does not hold), and passes authentic deliveries on to --forward unchanged.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { verify } from '../mirror/verify.ts';
import { describeDelivery } from './describe-delivery.ts';

export interface ListenOptions {
  port: number;
  host: string;
  /** `whsec_…` secrets; none: signatures are not checked. */
  secrets: readonly string[];
  /** Largest age of webhook-timestamp accepted, in milliseconds. */
  toleranceMs: number;
  /** Where to pass deliveries on (same body and headers); its answer becomes listen's answer. */
  forward?: string;
  /** Largest body accepted, in bytes. */
  bodyLimit: number;
  /** Where the lines go (stdout in the CLI). */
  print: (lines: string[]) => void;
  now?: () => number;
}

export interface RunningListener {
  url: string;
  close(): Promise<void>;
}

/** Headers that describe one connection, not the delivery: never passed on. */
const hopByHop = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'expect']);

function readBody(incoming: http.IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    incoming.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    incoming.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks).toString('utf8')));
    incoming.on('error', reject);
  });
}

function answer(response: http.ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

async function forwardDelivery(
  target: string,
  incoming: http.IncomingMessage,
  body: string,
): Promise<{ status: number; contentType: string; body: string } | { error: string }> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (value !== undefined && !hopByHop.has(name)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  try {
    const response = await request(target, { method: 'POST', headers, body, reset: true });
    return {
      status: response.statusCode,
      contentType: String(response.headers['content-type'] ?? 'text/plain'),
      body: await response.body.text(),
    };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

export async function startListener(options: ListenOptions): Promise<RunningListener> {
  const now = options.now ?? Date.now;
  const server = http.createServer((incoming, response) => {
    const handle = async () => {
      if (incoming.method !== 'POST') {
        answer(response, 405, { error: { code: 'method_not_allowed', message: 'learnhook listen takes POST deliveries' } });
        return;
      }
      const body = await readBody(incoming, options.bodyLimit);
      const at = now();
      if (body === undefined) {
        options.print([
          `${new Date(at).toISOString().slice(11, 23)} · a delivery larger than ${options.bodyLimit} bytes, refused with 413`,
        ]);
        answer(response, 413, { error: { code: 'payload_too_large', message: `the body is larger than ${options.bodyLimit} bytes` } });
        return;
      }
      const verification =
        options.secrets.length > 0
          ? verify(body, incoming.headers, { secrets: options.secrets, toleranceMs: options.toleranceMs, now: at })
          : undefined;
      const lines = describeDelivery({ headers: incoming.headers, body, at, ...(verification ? { verification } : {}) });
      if (verification && !verification.ok) {
        options.print([...lines, '  → answered 401: not forwarded, a sender with the right secret retries it']);
        answer(response, 401, { error: { code: 'unauthorized', message: `the delivery is not authentic: ${verification.reason}` } });
        return;
      }
      if (!options.forward) {
        options.print([...lines, '  → answered 202']);
        answer(response, 202, { status: 'accepted' });
        return;
      }
      const forwarded = await forwardDelivery(options.forward, incoming, body);
      if ('error' in forwarded) {
        options.print([...lines, `  → ${options.forward} did not answer (${forwarded.error}); answered 502, the sender retries`]);
        answer(response, 502, { error: { code: 'forward_failed', message: `${options.forward} did not answer: ${forwarded.error}` } });
        return;
      }
      options.print([...lines, `  → forwarded to ${options.forward}: ${forwarded.status}, relayed`]);
      response.writeHead(forwarded.status, { 'content-type': forwarded.contentType });
      response.end(forwarded.body);
    };
    handle().catch((error: unknown) => {
      options.print([`learnhook listen: ${(error as Error).message}`]);
      if (!response.headersSent) answer(response, 500, { error: { code: 'internal', message: (error as Error).message } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
