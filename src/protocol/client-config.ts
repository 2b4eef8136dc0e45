import { z } from 'zod';
import { AgentIdSchema } from './ids.ts';
import { LIMITS } from './limits.ts';

/**
 * `mcp_client_config.json`: a worker's (or admin client's) identity and where to find the server.
 * `am agents add … --out FILE` writes one.
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
    return { ok: false, field: '(file)', message: `not valid JSON: ${(error as Error).message}` };
  }
  const parsed = ClientConfigSchema.safeParse(raw);
  if (parsed.success) return { ok: true, config: parsed.data };
  const issue = parsed.error.issues[0];
  const field = issue?.path.length ? issue.path.join('.') : '(root)';
  const message =
    issue?.code === 'unrecognized_keys'
      ? `unknown field(s) ${issue.keys.join(', ')}`
      : (issue?.message ?? 'invalid');
  return {
    ok: false,
    field: issue?.code === 'unrecognized_keys' ? (issue.keys[0] ?? field) : field,
    message,
  };
}
