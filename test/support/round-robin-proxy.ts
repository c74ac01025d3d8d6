// For tests: one loopback address in front of several HTTP servers, each request passed to the next one in turn; a
// server that refuses the connection (it is down) is skipped for that request, as a load balancer's health check would.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RoundRobinProxy {
  /** `http://127.0.0.1:PORT`: paths and queries are passed on as they came. */
  url: string;
  /** Requests each server answered, by its index in `targets`. */
  answered: number[];
  /** Times a server refused a connection and the request went to the next one. */
  skipped: number;
  close(): Promise<void>;
}

export async function startRoundRobinProxy(targets: readonly string[]): Promise<RoundRobinProxy> {
  const agent = new http.Agent({ keepAlive: true });
  const answered = targets.map(() => 0);
  let turn = 0;
  const proxy: RoundRobinProxy = { url: '', answered, skipped: 0, close: async () => {} };

  const forward = (incoming: http.IncomingMessage, body: Buffer, outgoing: http.ServerResponse, index: number, tries: number) => {
    const upstream = http.request(
      new URL(incoming.url ?? '/', targets[index]),
      { method: incoming.method, headers: incoming.headers, agent },
      (response) => {
        answered[index] = (answered[index] ?? 0) + 1;
        outgoing.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(outgoing);
      },
    );
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      if (outgoing.headersSent) return outgoing.destroy();
      if (error.code === 'ECONNREFUSED' && tries < targets.length) {
        proxy.skipped++;
        return forward(incoming, body, outgoing, (index + 1) % targets.length, tries + 1);
      }
      outgoing.writeHead(502, { 'content-type': 'text/plain' }).end(`${targets[index]} failed: ${error.message}`);
    });
    // A sender that goes away mid-request (killed) takes its request to the server with it.
    outgoing.on('close', () => {
      if (!outgoing.writableFinished) upstream.destroy();
    });
    upstream.end(body);
  };

  const server = http.createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => forward(incoming, Buffer.concat(chunks), outgoing, turn++ % targets.length, 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    agent.destroy();
  };
  return proxy;
}
