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
    /** `POST /v1/accounts/1/events`, the request that was refused. */
    readonly request: string,
    /** The server's own explanation (`error.message` of its answer). */
    readonly serverMessage: string,
  ) {
    super(`${request} answered ${status}: ${serverMessage}`);
  }
}

/** The API did not answer at all (nothing listening, wrong host, connection cut). */
export class ApiUnreachableError extends Error {
  override name = 'ApiUnreachableError';
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
    let response: Awaited<ReturnType<typeof request>>;
    let text: string;
    try {
      response = await request(new URL(path, this.baseUrl), {
        method,
        dispatcher: this.#dispatcher,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      text = await response.body.text();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ECONNREFUSED' ? 'nothing answers there' : (error as Error).message;
      throw new ApiUnreachableError(
        `cannot reach the API at ${this.baseUrl} (${why}): is \`learnhook serve\` running, and is --api right?`,
      );
    }
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
        `${method} ${path}`,
        error?.message ?? JSON.stringify(response.body),
      );
    }
    return response.body;
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
  }
}
