// The one receiver every contender posts to, in a process of its own (so the publisher's work does not delay
// receipts): answers 202 at once and keeps the ledger; a second port accepts connections and never answers (the dead endpoint).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { Ledger } from './ledger.ts';
import type { ReceiverCommand, ReceiverMessage } from './receiver.ts';
import { traceOf, wallClock } from './workload.ts';

let ledger = new Ledger({});
let requests = 0;
let announced = false;

function send(message: ReceiverMessage): void {
  process.send?.(message);
}

const server = http.createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const receivedAt = wallClock();
    requests++;
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events?: { eventInfo?: string }[] };
      for (const event of body.events ?? []) {
        const trace = traceOf(String(event.eventInfo ?? ''));
        if (trace) ledger.record(trace, receivedAt);
      }
    } catch {
      response.writeHead(400).end();
      return;
    }
    response.writeHead(202).end();
    if (!announced && ledger.complete) {
      announced = true;
      send({ type: 'complete' });
    }
  });
});
server.keepAliveTimeout = 60_000;

const deadSockets = new Set<net.Socket>();
const dead = net.createServer((socket) => {
  // Accepts the connection, reads and drops whatever comes, never answers.
  deadSockets.add(socket);
  socket.on('data', () => {});
  socket.on('error', () => {});
  socket.on('close', () => deadSockets.delete(socket));
});

process.on('message', (command: ReceiverCommand) => {
  if (command.type === 'expect') {
    ledger = new Ledger(command.expected);
    requests = 0;
    announced = false;
    send({ type: 'expecting' });
  } else if (command.type === 'summary') {
    send({ type: 'summary', summary: ledger.summary(), requests });
  } else if (command.type === 'close') {
    for (const socket of deadSockets) socket.destroy();
    server.closeAllConnections();
    server.close();
    dead.close();
    process.disconnect?.();
  }
});

await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
send({
  type: 'listening',
  url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
  deadUrl: `http://127.0.0.1:${(dead.address() as AddressInfo).port}`,
});
