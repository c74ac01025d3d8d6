// A client of the platform's public read API (/primeapi/v2, JSON:API): learning objects with instances, and users.

export interface LearningObjectResource {
  id: string;
  attributes: {
    loType: string;
    state: string;
    dateCreated: string;
    datePublished: string | null;
    dateUpdated: string;
    duration: number | null;
    enrollmentType: string;
    loFormat: string;
    localizedMetadata: Array<{ locale: string; name: string; description?: string }>;
  };
}

export interface InstanceResource {
  id: string;
  attributes: {
    state: string;
    dateCreated: string;
    isDefault: boolean;
    seatLimit: number | null;
    waitlistLimit: number | null;
    enrollmentDeadline: string | null;
    localizedMetadata: Array<{ locale: string; name: string }>;
  };
  relationships: { learningObject: { data: { id: string } } };
}

export interface UserResource {
  id: string;
  attributes: { name: string; email: string; userUniqueId: string; userType: string; state: string; timeZoneCode: string };
}

export type ApiAnswer<T> = { ok: true; value: T } | { ok: false; rateLimitedForMs: number } | { ok: false; error: string };

/** Most ids the API takes in one call. */
export const maxIdsPerCall = 10;

export class ReadApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async #get<T>(path: string): Promise<ApiAnswer<T>> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl.replace(/\/$/, '')}/primeapi/v2${path}`, {
        headers: { accept: 'application/vnd.api+json', authorization: `Bearer ${this.token}` },
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      return { ok: false, error: `the read API is unreachable: ${(error as Error).message}` };
    }
    if (response.status === 429) {
      await response.arrayBuffer();
      const seconds = Number(response.headers.get('retry-after') ?? '1');
      return { ok: false, rateLimitedForMs: Math.ceil((Number.isFinite(seconds) ? seconds : 1) * 1000) };
    }
    if (!response.ok) {
      const text = await response.text();
      return { ok: false, error: `the read API answered ${response.status} to ${path}: ${text.slice(0, 200)}` };
    }
    return { ok: true, value: (await response.json()) as T };
  }

  /** Learning objects by id with their instances; unknown and deleted ids are simply absent. */
  async learningObjects(
    ids: readonly string[],
  ): Promise<ApiAnswer<{ learningObjects: LearningObjectResource[]; instances: InstanceResource[] }>> {
    const answer = await this.#get<{ data: LearningObjectResource[]; included?: InstanceResource[] }>(
      `/learningObjects?ids=${ids.map(encodeURIComponent).join(',')}&include=instances`,
    );
    return answer.ok ? { ok: true, value: { learningObjects: answer.value.data, instances: answer.value.included ?? [] } } : answer;
  }

  async users(ids: readonly string[]): Promise<ApiAnswer<UserResource[]>> {
    const answer = await this.#get<{ data: UserResource[] }>(`/users?ids=${ids.map(encodeURIComponent).join(',')}`);
    return answer.ok ? { ok: true, value: answer.value.data } : answer;
  }
}
