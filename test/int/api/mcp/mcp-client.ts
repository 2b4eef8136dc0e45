import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult, ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';

/** The SDK's own client over Streamable HTTP to `<base>/mcp`, with a bearer token. */
export async function connectMcp(base: string, token: string): Promise<Client> {
  const client = new Client({ name: 'am-int-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  // Caches the output schemas, so every call below is also checked against them by the client.
  await client.listTools();
  return client;
}

/** Calls a tool and returns its result (the SDK types `callTool` loosely). */
export async function call(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

/** The structured output of a successful call; fails the test with the error text otherwise. */
export async function ok<T = Record<string, unknown>>(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<T> {
  const result = await call(client, name, args);
  if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
  return result.structuredContent as T;
}

/** The text of a result's first content item. */
export function textOf(result: CallToolResult): string {
  const first = result.content[0];
  return first?.type === 'text' ? first.text : '';
}

/** The JSON text of a resource's first contents item. */
export function resourceJson<T>(result: ReadResourceResult): T {
  const first = result.contents[0];
  if (first === undefined || !('text' in first)) throw new Error('the resource has no text contents');
  return JSON.parse(first.text) as T;
}
