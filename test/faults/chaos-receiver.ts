// A loopback proxy in front of the mirror that injects seeded faults into deliveries and counts each one it injects:
// 500s, connection resets, answers lost after the mirror stored the batch, answers after the socket timeout, refused
// connections (its port closed for a while) and slow answer bodies.
import http from 'node:http';
import type { Socket } from 'node:net';
import { request } from 'undici';
import { seededRandom } from '../../src/platform/rules/progress.ts';

/** Kinds of fault the receiver injects into a delivery. */
export const receiverFaults = ['status500', 'reset', 'answerLost', 'lateAnswer', 'slowBody', 'refused'] as const;
export type ReceiverFault = (typeof receiverFaults)[number];

/** One delivery the mirror answered, as the proxy saw it. */
export interface ForwardedDelivery {
  batchId: string;
  sequence: string;
  accountId: number;
  eventIds: string[];
  body: string;
  /** The mirror's status (0 when the mirror could not be reached). */
  mirrorStatus: number;
  /** The fault injected on the way back, if any. */
  fault: ReceiverFault | undefined;
}

export interface ChaosReceiver {
  url: string;
  port: number;
  /** Faults injected so far, by kind. */
  injected: Record<ReceiverFault, number>;
  /** Requests passed on to the mirror, in the order they reached the proxy. */
  forwarded: ForwardedDelivery[];
  /** Requests that found the mirror down (it was killed): answered 502, not counted as injected faults. */
  mirrorDown: number;
  /** Stops injecting faults (every later request is passed on as is). */
  calm(): void;
  close(): Promise<void>;
}

export interface ChaosOptions {
  port: number;
  /** Base URL of the mirror. */
  target: string;
  seed: number;
  /** The producer's socket timeout: a late answer comes after it, a slow body within it. */
  socketTimeoutMs: number;
  /** Chance that a request gets a fault (0..1); the kinds take turns. */
  faultRate: number;
}

export async function startChaosReceiver(options: ChaosOptions): Promise<ChaosReceiver> {
  const random = seededRandom(options.seed);
  const injected = Object.fromEntries(receiverFaults.map((fault) => [fault, 0])) as Record<ReceiverFault, number>;
  const forwarded: ForwardedDelivery[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let calm = false;
  let turn = Math.floor(random() * receiverFaults.length);
  let closed = false;
  let mirrorDown = 0;
  let server: http.Server;

  const later = (ms: number, action: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      action();
    }, ms);
    timers.add(timer);
  };

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = http.createServer(handle);
      server.on('connection', (socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      });
      server.once('error', reject);
      server.listen(options.port, '127.0.0.1', () => resolve());
    });

  /** Closes the port for a while: connections are refused until it opens again. */
  let refusing = false;
  const refuseFor = (ms: number) => {
    if (refusing) return;
    refusing = true;
    server.close();
    server.closeIdleConnections();
    const reopen = () => {
      if (closed) return;
      listen().then(
        () => {
          refusing = false;
        },
        () => later(50, reopen),
      );
    };
    later(ms, reopen);
  };

  async function handle(incoming: http.IncomingMessage, outgoing: http.ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    // Whether to inject is drawn; which fault comes in turn (from a seeded start), so even a short run sees each kind.
    const fault = !calm && random() < options.faultRate ? receiverFaults[turn++ % receiverFaults.length] : undefined;
    if (fault) injected[fault]++;
    // Faults before the mirror sees the delivery.
    if (fault === 'status500') return void outgoing.writeHead(500, { 'content-type': 'text/plain' }).end('injected failure');
    if (fault === 'reset') return void incoming.socket.destroy();
    if (fault === 'refused') {
      incoming.socket.destroy();
      return refuseFor(200 + Math.floor(random() * 800));
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(incoming.headers)) {
      if (typeof value === 'string' && !['host', 'connection', 'content-length', 'transfer-encoding'].includes(name)) headers[name] = value;
    }
    let status = 0;
    let answer = '';
    try {
      const response = await request(`${options.target}${incoming.url ?? '/webhook'}`, { method: 'POST', headers, body });
      status = response.statusCode;
      answer = await response.body.text();
    } catch {
      mirrorDown++;
      if (!outgoing.destroyed) outgoing.writeHead(502, { 'content-type': 'text/plain' }).end('the mirror is down');
      return;
    }
    let parsed: { accountId?: number; events?: { eventId?: string }[] } = {};
    try {
      parsed = JSON.parse(body);
    } catch {}
    forwarded.push({
      batchId: headers['webhook-id'] ?? '',
      sequence: headers['learnhook-sequence'] ?? '',
      accountId: Number(parsed.accountId),
      eventIds: (parsed.events ?? []).map((event) => String(event.eventId)),
      body,
      mirrorStatus: status,
      fault,
    });
    // Faults after the mirror stored the delivery: the producer must send it again, and the mirror must flag it.
    if (fault === 'answerLost') return void incoming.socket.destroy();
    const reply = () => {
      if (!outgoing.destroyed) outgoing.writeHead(status, { 'content-type': 'application/json' }).end(answer);
    };
    if (fault === 'lateAnswer') return later(options.socketTimeoutMs + 300, reply);
    if (fault === 'slowBody') {
      // Headers at once, then the body in eight pieces, each well within the socket timeout.
      outgoing.writeHead(status, { 'content-type': 'application/json' });
      const bytes = Buffer.from(answer);
      const size = Math.ceil(bytes.length / 8);
      const pieces = Array.from({ length: 8 }, (_, index) => bytes.subarray(index * size, (index + 1) * size));
      const step = Math.max(10, Math.floor(options.socketTimeoutMs / 4));
      const next = () => {
        if (outgoing.destroyed) return;
        const piece = pieces.shift();
        if (piece === undefined) return void outgoing.end();
        outgoing.write(piece);
        later(step, next);
      };
      return later(step, next);
    }
    reply();
  }

  await listen();
  return {
    url: `http://127.0.0.1:${options.port}/webhook`,
    port: options.port,
    injected,
    forwarded,
    get mirrorDown() {
      return mirrorDown;
    },
    calm() {
      calm = true;
    },
    async close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
