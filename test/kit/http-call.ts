/** What `httpCall` answers: the status, the content type and the body (JSON when it is JSON). */
export interface HttpReply {
  status: number;
  type: string;
  body: Record<string, unknown> & { code?: string };
}

/**
 * A plain fetch against a server whose base URL `base()` gives (known only once it listens): a bearer
 * token when not null, and a body sent as JSON — a string as it is (malformed JSON, empty bodies).
 */
export function httpCall(base: () => string) {
  return async (method: string, path: string, token: string | null, body?: unknown): Promise<HttpReply> => {
    const response = await fetch(`${base()}${path}`, {
      method,
      headers: {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    const type = response.headers.get('content-type') ?? '';
    return {
      status: response.status,
      type,
      body: (text && type.includes('json') ? JSON.parse(text) : { text }) as HttpReply['body'],
    };
  };
}
