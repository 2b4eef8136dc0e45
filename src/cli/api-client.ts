import { AmApiError, AmClient, AmNetworkError } from '../client/index.ts';
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

/**
 * The CLI's HTTP client: the public client (src/client) with the CLI's words for what went wrong — an
 * unreachable server says how to start one and where its address came from, a refused token names the
 * file or variables it came from.
 */
export class ApiClient {
  readonly #client: AmClient;

  constructor(readonly target: ClientTarget) {
    this.#client = new AmClient({ url: target.url, token: target.token });
  }

  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    try {
      return await this.#client.request<T>(method, path, body);
    } catch (error) {
      if (error instanceof AmNetworkError) {
        throw new AppError(
          'AM_ERR_CONFIG_INVALID',
          `cannot reach the server at ${this.target.url} (${error.reason}) — is it running? Start it with "npm start", or check ${this.target.source}`,
        );
      }
      if (error instanceof AmApiError) {
        if (error.status === 401) {
          throw new ApiProblem(401, error.code, `the server refused the token from ${this.target.source}`);
        }
        throw new ApiProblem(error.status, error.code, error.detail);
      }
      throw error;
    }
  }
}
