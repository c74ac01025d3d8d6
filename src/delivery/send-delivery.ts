// Sends one delivery request with undici: separate connect and socket timeouts, no redirects, the SSRF guard on the connection.
import { Agent, request } from 'undici';
import { allowPrivateFor, checkLiteralHost, guardedLookup, parseTargetUrl, TargetRefusedError } from './target-guard.ts';

/** Why an attempt failed, as the failure metrics count it. */
export type FailureCause = 'timeout' | 'refused' | 'reset' | 'status' | 'ssrf' | 'network';

export interface DeliveryRequest {
  url: string;
  /** The body's UTF-8 bytes, sent as they are. */
  body: Buffer;
  headers: Record<string, string>;
}

export interface DeliveryResult {
  acknowledged: boolean;
  statusCode: number | null;
  cause: FailureCause | null;
  /** Plain words for the attempts log. */
  error: string | null;
  durationMs: number;
  /** The start of the answer's body (see `responseBodyLimit`); null when empty or when nothing answered. */
  responseBody: string | null;
  /** The `retry-after` header of a 429 or 503, as sent. */
  retryAfter: string | undefined;
}

export interface SenderSettings {
  connectTimeoutMs: number;
  socketTimeoutMs: number;
  allowPrivateTargets: boolean;
  concurrency: number;
  /** Origins exempt from the guard (the demo's own mirror); given by IP address, so no lookup is involved. */
  trustedTargets?: readonly string[] | undefined;
}

function describeFailure(error: unknown, settings: SenderSettings): { cause: FailureCause; error: string } {
  if (error instanceof TargetRefusedError) return { cause: 'ssrf', error: error.message };
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const message = (error as Error).message;
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { cause: 'timeout', error: `could not connect within ${settings.connectTimeoutMs} ms` };
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return { cause: 'timeout', error: `no answer within ${settings.socketTimeoutMs} ms` };
    case 'ECONNREFUSED':
      return { cause: 'refused', error: 'the target refused the connection' };
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return { cause: 'reset', error: 'the target closed the connection before answering' };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { cause: 'network', error: `cannot resolve the target's host (${code})` };
  }
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof TargetRefusedError) return { cause: 'ssrf', error: cause.message };
  return { cause: 'network', error: message || String(error) };
}

/** Most of an answer's body kept in the attempts log. */
export const responseBodyLimit = 4096;

/** The first `responseBodyLimit` bytes of a body as text (null when empty); reads on to 64 KiB, then gives up the connection. */
async function readStart(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string | null> {
  const kept: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size < responseBodyLimit) kept.push(chunk.subarray(0, responseBodyLimit - size));
    size += chunk.length;
    if (size > 64 * 1024) {
      body.destroy();
      break;
    }
  }
  const text = Buffer.concat(kept).toString('utf8');
  return text === '' ? null : text;
}

/** The headers a delivery is sent with, as the attempts log shows them. */
export function sentHeaders(delivery: DeliveryRequest): Record<string, string> {
  return { 'content-type': 'application/json', 'user-agent': 'learnhook', ...delivery.headers };
}

/** One undici agent for all deliveries of a process: keep-alive connections per target, the guard on every connect. */
export class DeliverySender {
  readonly #agent: Agent;
  constructor(private readonly settings: SenderSettings) {
    this.#agent = new Agent({
      connect: { timeout: settings.connectTimeoutMs, lookup: guardedLookup(settings.allowPrivateTargets) },
      headersTimeout: settings.socketTimeoutMs,
      bodyTimeout: settings.socketTimeoutMs,
      // Each webhook has one request in flight; a few spare connections cover several webhooks on one host.
      connections: Math.max(1, settings.concurrency),
      pipelining: 1,
    });
  }

  /** Sends one delivery; `signal` aborts it (its lease was lost), and it then resolves as a failure. */
  async send(delivery: DeliveryRequest, signal?: AbortSignal): Promise<DeliveryResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      const url = parseTargetUrl(delivery.url);
      checkLiteralHost(url, allowPrivateFor(url, this.settings.allowPrivateTargets, this.settings.trustedTargets));
      const response = await request(url, {
        method: 'POST',
        body: delivery.body,
        headers: sentHeaders(delivery),
        dispatcher: this.#agent,
        ...(signal ? { signal } : {}),
      });
      // The start of the answer is kept for the attempts log (it says why a receiver refused); the rest is read and
      // dropped so the connection can be reused.
      const responseBody = await readStart(response.body);
      const statusCode = response.statusCode;
      const acknowledged = statusCode >= 200 && statusCode < 300;
      const retryAfterHeader = response.headers['retry-after'];
      return {
        acknowledged,
        statusCode,
        cause: acknowledged ? null : 'status',
        error: acknowledged
          ? null
          : statusCode >= 300 && statusCode < 400
            ? `answered ${statusCode} (redirects are not followed)`
            : `answered ${statusCode}`,
        durationMs: elapsed(),
        responseBody,
        retryAfter: (statusCode === 429 || statusCode === 503) && typeof retryAfterHeader === 'string' ? retryAfterHeader : undefined,
      };
    } catch (error) {
      return {
        acknowledged: false,
        statusCode: null,
        ...describeFailure(error, this.settings),
        durationMs: elapsed(),
        responseBody: null,
        retryAfter: undefined,
      };
    }
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}
