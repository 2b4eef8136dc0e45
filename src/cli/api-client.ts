import { AppError } from '../errors.ts';
import type { ClientTarget } from './resolve-client.ts';

/** A refusal from the server, with its problem+json code. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(`${detail} (${code})`);
    this.name = 'ApiProblem';
  }
}

/** The CLI's HTTP client: bearer auth, problem+json → ApiProblem, network errors → one clear line. */
export class ApiClient {
  constructor(readonly target: ClientTarget) {}

  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(new URL(path, this.target.url), {
        method,
        headers: {
          authorization: `Bearer ${this.target.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new AppError(
        'AM_ERR_CONFIG_INVALID',
        `cannot reach the server at ${this.target.url} (${cause}) — is it running? Start it with "npm start", or check ${this.target.source}`,
      );
    }
    const text = await response.text();
    if (response.ok) return (text ? JSON.parse(text) : null) as T;
    let problem: { code?: string; detail?: string } = {};
    try {
      problem = JSON.parse(text) as typeof problem;
    } catch {
      // not problem+json
    }
    const code = problem.code ?? `HTTP_${response.status}`;
    if (response.status === 401) {
      throw new ApiProblem(401, code, `the server refused the token from ${this.target.source}`);
    }
    throw new ApiProblem(response.status, code, problem.detail ?? `HTTP ${response.status}`);
  }
}
