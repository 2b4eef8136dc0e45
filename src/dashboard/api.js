// The dashboard's calls to the API: the session cookie goes with every same-origin request, and every
// request that changes state carries the CSRF header the server requires of cookie requests.

export const CSRF_HEADER = 'x-am-csrf';

/** A refused request: the HTTP status and the problem+json body (its `code` and `detail`). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ? `${problem.detail} (${problem.code ?? status})` : `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** The status and the parsed body, whatever the status (for /readyz, whose 503 carries a body). */
export async function request(method, path, body) {
  const headers = { accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers[CSRF_HEADER] = '1';
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    cache: 'no-store',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text };
  }
  if (response.status === 401) window.dispatchEvent(new CustomEvent('am:unauthorized'));
  return { status: response.status, data };
}

/** The body of a successful request; an ApiError otherwise. */
export async function api(method, path, body) {
  const { status, data } = await request(method, path, body);
  if (status >= 400) throw new ApiError(status, data);
  return data;
}

/** `?a=1&b=2` from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
