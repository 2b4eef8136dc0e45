import { AppError } from '../errors.ts';

/**
 * Checks that a server answers and accepts a token before a long-running client starts, so a wrong URL
 * or token is one clear line instead of an endless retry loop.
 */
export async function preflight(serverUrl: string, token: string): Promise<void> {
  let response: Response;
  try {
    response = await fetch(new URL('/readyz', serverUrl), {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(5_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new AppError(
      'AM_ERR_CONFIG_INVALID',
      `cannot reach the server at ${serverUrl} (${cause}) — is it running? Start it with "npm start", or fix server_url / AM_URL`,
    );
  }
  if (response.status === 401 || response.status === 403) {
    const problem = (await response.json().catch(() => ({}))) as { code?: string };
    throw new AppError(
      'AM_ERR_AUTH_INVALID',
      `the server at ${serverUrl} refused the token (${problem.code ?? response.status}) — check auth_token / AM_TOKEN`,
    );
  }
}
