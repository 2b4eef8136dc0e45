import { z } from 'zod';
import { AgentIdSchema } from './ids.ts';
import { describeJsonError } from './json-error.ts';
import { LIMITS } from './limits.ts';

/** An MCP tool server's name in `mcpServers`: it prefixes its tools' names (`<server>__<tool>`). */
export const MCP_SERVER_NAME_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** Per tool call, when `timeoutMs` is not given. */
export const DEFAULT_MCP_TIMEOUT_MS = 30_000;

const StringMapSchema = z.record(z.string().min(1), z.string());

/**
 * One entry of `mcpServers`: a stdio server (`command`, `args`, `env`, `cwd`) or a Streamable HTTP one
 * (`url`, `headers`) — the shape other MCP hosts use. One flat object with a check on which fields go
 * together, rather than a union, so a mistake names its field (`mcpServers.files.command: Required`)
 * instead of "no union branch matched".
 */
export const McpServerConfigSchema = z
  .strictObject({
    /** Optional, as other hosts write it; implied by `command` or `url`. */
    type: z.enum(['stdio', 'http', 'streamable-http']).optional(),
    /** stdio: the executable to start (no shell). */
    command: z.string().min(1).optional(),
    args: z.array(z.string()).max(256).optional(),
    /** stdio: variables given to the server, beside the safe defaults (PATH, HOME, …); nothing else is passed. */
    env: StringMapSchema.optional(),
    /** stdio: the working directory; relative to the config file's directory, which is the default. */
    cwd: z.string().min(1).optional(),
    /** Streamable HTTP: the server's endpoint. */
    url: z.url({ protocol: /^https?$/ }).optional(),
    /** Streamable HTTP: headers sent with every request (e.g. Authorization). */
    headers: StringMapSchema.optional(),
    /** Only these tools (the server's own names) are offered to the model. Default: all. */
    allowTools: z.array(z.string().min(1)).max(256).optional(),
    /** Per tool call (and for connecting), in ms. Default 30000. */
    timeoutMs: z.number().int().min(1).max(3_600_000).optional(),
  })
  .superRefine((server, ctx) => {
    const http = server.url !== undefined || server.type === 'http' || server.type === 'streamable-http';
    if (http) {
      if (server.url === undefined) {
        ctx.addIssue({ code: 'custom', path: ['url'], message: 'Required for a Streamable HTTP server' });
      }
      for (const field of ['command', 'args', 'env', 'cwd'] as const) {
        if (server[field] !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [field],
            message: 'only for a stdio server; a server with a url is a Streamable HTTP server',
          });
        }
      }
      return;
    }
    if (server.command === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['command'],
        message: 'Required (a stdio server needs a command; a Streamable HTTP server gives a url instead)',
      });
    }
    if (server.headers !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['headers'], message: 'only for a Streamable HTTP server (url)' });
    }
  });
export type McpServerConfig = z.infer<typeof McpServerConfigSchema>;

/**
 * `mcp_client_config.json`: a worker's (or admin client's) identity and where to find the server.
 * `am agents add … --out FILE` writes one; a worker's may add tools (`tool_modules`, `mcpServers`,
 * docs/tools.md).
 */
export const ClientConfigSchema = z.strictObject({
  client_agent_id: AgentIdSchema,
  server_url: z.url({ protocol: /^https?$/ }),
  auth_token: z.string().min(16).max(512),
  nats_url: z.string().min(1).optional(),
  nats_user: z.string().min(1).optional(),
  nats_password: z.string().min(1).optional(),
  capabilities: z.array(z.string().min(1).max(LIMITS.maxCapabilityChars)).max(64).optional(),
  concurrency: z.number().int().min(1).max(256).optional(),
  /** ES modules whose tools `am worker` adds to the built-in ones; relative to the config file's directory. */
  tool_modules: z.array(z.string().min(1)).max(64).optional(),
  /** MCP tool servers whose tools `am worker` offers to the model as `<server>__<tool>`. */
  mcpServers: z
    .record(
      z.string().regex(MCP_SERVER_NAME_PATTERN, 'a server name is 1-32 characters of A-Z a-z 0-9 _ -'),
      McpServerConfigSchema,
    )
    .optional(),
});
export type ClientConfig = z.infer<typeof ClientConfigSchema>;

export type ClientConfigParse =
  | { ok: true; config: ClientConfig }
  | { ok: false; field: string; message: string };

/** Parses the file's text; a problem names the field (`auth_token: Too small…`), or `(file)` for bad JSON. */
export function parseClientConfig(text: string): ClientConfigParse {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { ok: false, field: '(file)', message: `not valid JSON: ${describeJsonError(text, error)}` };
  }
  const parsed = ClientConfigSchema.safeParse(raw);
  if (parsed.success) return { ok: true, config: parsed.data };
  const issue = parsed.error.issues[0];
  if (issue === undefined) return { ok: false, field: '(root)', message: 'invalid' };
  const path = issue.path.map(String);
  switch (issue.code) {
    case 'unrecognized_keys':
      return {
        ok: false,
        field: [...path, issue.keys[0] ?? ''].join('.'),
        message: `unknown field(s) ${issue.keys.join(', ')}`,
      };
    case 'invalid_key':
      return { ok: false, field: path.join('.'), message: issue.issues[0]?.message ?? issue.message };
    case 'invalid_type':
      return {
        ok: false,
        field: path.length ? path.join('.') : '(root)',
        // zod says "expected string, received undefined" for a missing field; "Required" is plainer.
        message: /received undefined$/.test(issue.message) ? 'Required' : issue.message,
      };
    default:
      return { ok: false, field: path.length ? path.join('.') : '(root)', message: issue.message };
  }
}
