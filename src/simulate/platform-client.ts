// A small HTTP client of the platform API (/v1), for the simulator and the CLI: JSON in, JSON out, errors in plain words.
import { Agent, request } from 'undici';

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
}

export class PlatformApiError extends Error {
  override name = 'PlatformApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class PlatformClient {
  readonly #dispatcher: Agent;
  constructor(
    readonly baseUrl: string,
    readonly token: string,
    connections = 16,
  ) {
    this.#dispatcher = new Agent({ connections, keepAliveTimeout: 10_000 });
  }

  /** Sends a request; answers with the status and parsed body, whatever the status. */
  async call<T = unknown>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<ApiResponse<T>> {
    const response = await request(new URL(path, this.baseUrl), {
      method,
      dispatcher: this.#dispatcher,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.body.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON (a CSV report, or a proxy's error page): hand back the text.
    }
    return { status: response.statusCode, body: parsed as T };
  }

  /** Like call, but a status of 400 and above throws a PlatformApiError with the server's message. */
  async expect<T = unknown>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const response = await this.call<T>(method, path, body);
    if (response.status >= 400) {
      const error = (response.body as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new PlatformApiError(
        response.status,
        error?.code ?? 'http_error',
        `${method} ${path} answered ${response.status}: ${error?.message ?? JSON.stringify(response.body)}`,
      );
    }
    return response.body;
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
  }
}
