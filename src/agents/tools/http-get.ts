import { z } from 'zod';
import { type Tool, ToolError } from './registry.ts';

export interface HttpGetOptions {
  /** URL prefixes that may be fetched (e.g. `https://api.example.com/v1/`). Empty: the tool is off. */
  allowlist: readonly string[];
  /** Per-request timeout. Default 10000 ms. */
  timeoutMs?: number;
  /** Bytes of body read at most; the rest is dropped. Default 100000. */
  maxBytes?: number;
  /** Replaces global fetch (tests). */
  fetch?: typeof fetch;
}

export const HttpGetInputSchema = z.object({ url: z.string().min(1) });

/**
 * Normalises through URL so `https://example.com` becomes `https://example.com/` and cannot match
 * `https://example.com.evil.test/`.
 */
function normalise(url: string): string | null {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return null;
    return parsed.href;
  } catch {
    return null;
  }
}

export function isAllowed(url: string, allowlist: readonly string[]): boolean {
  const target = normalise(url);
  if (target === null) return false;
  return allowlist.some((prefix) => {
    const normalisedPrefix = normalise(prefix);
    return normalisedPrefix !== null && target.startsWith(normalisedPrefix);
  });
}

/** Returns the http_get tool, or null when no allowlist is configured (the tool is then not offered). */
export function createHttpGetTool(options: HttpGetOptions): Tool<z.infer<typeof HttpGetInputSchema>> | null {
  if (options.allowlist.length === 0) return null;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBytes = options.maxBytes ?? 100_000;
  const doFetch = options.fetch ?? fetch;
  return {
    name: 'http_get',
    description: `Fetches a URL with GET and returns the status and body text (first ${maxBytes} bytes). Only URLs starting with one of these prefixes are allowed: ${options.allowlist.join(', ')}. Input {"url": "..."}.`,
    inputSchema: HttpGetInputSchema,
    async run({ url }, { signal }) {
      if (!isAllowed(url, options.allowlist)) {
        throw new ToolError(`${url} is not allowed; allowed prefixes: ${options.allowlist.join(', ')}`);
      }
      const timeout = AbortSignal.timeout(timeoutMs);
      const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
      let response: Response;
      try {
        // Redirects are not followed: a redirect could leave the allowlist.
        response = await doFetch(url, { method: 'GET', redirect: 'manual', signal: combined });
      } catch (error) {
        if (signal?.aborted) throw error;
        if (timeout.aborted) throw new ToolError(`GET ${url} timed out after ${timeoutMs} ms`);
        throw new ToolError(`GET ${url} failed: ${(error as Error).message}`);
      }
      if (response.status >= 300 && response.status < 400) {
        await response.body?.cancel();
        return `HTTP ${response.status}; redirect to ${response.headers.get('location') ?? '(none)'} not followed`;
      }
      const { text, truncated } = await readCapped(response, maxBytes);
      return `HTTP ${response.status}\n${text}${truncated ? `\n[… body truncated at ${maxBytes} bytes]` : ''}`;
    },
  };
}

async function readCapped(
  response: Response,
  maxBytes: number,
): Promise<{ text: string; truncated: boolean }> {
  if (!response.body) return { text: '', truncated: false };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const room = maxBytes - size;
    if (value.byteLength >= room) {
      chunks.push(value.subarray(0, room));
      size += room;
      truncated = value.byteLength > room;
      if (!truncated) {
        // Exactly full: only a further chunk would mean the body is larger.
        const more = await reader.read();
        truncated = !more.done;
      }
      await reader.cancel();
      break;
    }
    chunks.push(value);
    size += value.byteLength;
  }
  return { text: new TextDecoder().decode(Buffer.concat(chunks)), truncated };
}
