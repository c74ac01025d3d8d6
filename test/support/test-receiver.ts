// For tests: a real HTTP receiver on 127.0.0.1 that records every delivery and answers as the test decides.
import { EventEmitter } from 'node:events';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedDelivery {
  /** performance.now() when the request arrived. */
  at: number;
  /** Path and query the request was sent to. */
  url: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: {
    accountId: number;
    events: { eventId: string; eventName: string; timestamp: string; eventInfo: string; data: Record<string, unknown> }[];
  };
  /** Whether the receiver acknowledged it (answered 2xx). */
  acknowledged: boolean;
}

/** What to do with a request: answer with a status (after an optional delay), or never answer. */
export type Answer = { status: number; delayMs?: number; headers?: Record<string, string>; body?: string } | 'hang';

export interface Receiver {
  url: string;
  port: number;
  deliveries: ReceivedDelivery[];
  /** The events acknowledged, in the order they were acknowledged (with repeats, if any). */
  acknowledgedEvents(): string[];
  /**
   * Resolves once `done()` holds, checking it whenever a delivery arrives or is answered (no polling); the deadline
   * (60 s by default) only bounds a test that would otherwise hang.
   */
  waitFor(done: () => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(
  answer: (delivery: ReceivedDelivery, index: number) => Answer = () => ({ status: 202 }),
  port = 0,
): Promise<Receiver> {
  const deliveries: ReceivedDelivery[] = [];
  // Fires when a delivery arrives and when it is answered: what waitFor re-checks on.
  const changes = new EventEmitter();
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const delivery: ReceivedDelivery = {
        at: performance.now(),
        url: request.url ?? '',
        headers: request.headers,
        raw,
        body: JSON.parse(raw),
        acknowledged: false,
      };
      deliveries.push(delivery);
      changes.emit('change');
      const decision = answer(delivery, deliveries.length - 1);
      if (decision === 'hang') return;
      const reply = () => {
        if (response.destroyed) return;
        // Acknowledged only if the answer can still reach the sender.
        delivery.acknowledged = decision.status >= 200 && decision.status < 300 && !request.socket.destroyed;
        response.writeHead(decision.status, decision.headers ?? {}).end(decision.body);
        changes.emit('change');
      };
      if (decision.delayMs) setTimeout(reply, decision.delayMs);
      else reply();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}/webhook`,
    port: address.port,
    deliveries,
    acknowledgedEvents: () =>
      deliveries.filter((delivery) => delivery.acknowledged).flatMap((delivery) => delivery.body.events.map((event) => event.eventId)),
    waitFor(done, timeoutMs = 60_000) {
      if (done()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!done()) return;
          clearTimeout(timer);
          changes.off('change', check);
          resolve();
        };
        const timer = setTimeout(() => {
          changes.off('change', check);
          reject(new Error(`the receiver did not get what was expected within ${timeoutMs} ms (${deliveries.length} deliveries so far)`));
        }, timeoutMs);
        changes.on('change', check);
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A TCP port on 127.0.0.1 that was free a moment ago (nothing listens on it). */
export async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
