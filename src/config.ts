import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { AppError } from './errors.ts';

const bool = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

/**
 * Every option AM reads, with its default. Keys are the environment variable names; the same keys may
 * be given in a JSON file named by AM_CONFIG_FILE (the environment wins). README lists them all.
 */
export const ConfigSchema = z.object({
  /** Where `am` keeps its state: embedded NATS store, read models, admin.json. Default `./.am`. */
  AM_HOME: z.string().default('.am'),
  /** NATS server(s), comma separated. Unset: `am up` starts an embedded nats-server. */
  NATS_URL: optionalString,
  /** The nats-server binary `am up` starts when NATS_URL is unset. Default: `nats-server` on PATH, else /usr/sbin. */
  AM_NATS_SERVER_BIN: optionalString,
  NATS_USER: optionalString,
  NATS_PASSWORD: optionalString,
  NATS_TOKEN: optionalString,
  /**
   * With NATS_URL: the users file a nats-server this process does not own includes (deploy/nats). AM
   * rewrites it from the agents projection whenever an agent is registered, rotated or revoked. Unset:
   * not written (the embedded server of `am up` is kept up to date anyway).
   */
  AM_NATS_USERS_FILE: optionalString,
  /** With AM_NATS_USERS_FILE: nats-server's pid file; the server is told to reload after each write. */
  AM_NATS_PID_FILE: optionalString,
  /** The JetStream stream. Default `AM_EVENTS`. */
  AM_STREAM: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default('AM_EVENTS'),
  /** Event subjects are `<prefix>.>`. Default `am.evt`. */
  AM_SUBJECT_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/)
    .default('am.evt'),
  /** Stream replicas: 1 on one node, 3 on a cluster. Default 1. */
  AM_REPLICAS: int(1, 5).default(1),
  /** This process's SQLite read model. Default `$AM_HOME/read-model-<port>.sqlite`. */
  AM_DB: optionalString,
  /** HTTP listen address. Default `127.0.0.1` (use `0.0.0.0` in a container). */
  AM_HTTP_HOST: z.string().default('127.0.0.1'),
  /** PEM certificate chain for HTTPS (with AM_TLS_KEY). Unset: plain HTTP (put TLS in a proxy in front). */
  AM_TLS_CERT: optionalString,
  /** PEM private key for HTTPS (with AM_TLS_CERT). */
  AM_TLS_KEY: optionalString,
  /** HTTP port. Default 8080. */
  AM_HTTP_PORT: int(0, 65535).default(8080),
  /** The bootstrap admin token. Unset: `am up` creates one in `$AM_HOME/admin.json`. */
  /** The bootstrap admin token. At least 32 characters: it opens everything, and a short one can be guessed. */
  AM_ADMIN_TOKEN: optionalString.refine((token) => token === undefined || token.length >= 32, {
    message: 'must be at least 32 characters (e.g. `openssl rand -hex 32`)',
  }),
  /** Client commands: the server URL and token (else `--config`, else `$AM_HOME/admin.json`). */
  AM_URL: optionalString,
  AM_TOKEN: optionalString,
  /** pino level. Default `info`. */
  AM_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Run the manager's reconcilers in this process. Default true. */
  AM_MANAGER: bool.default(true),
  /** How often reconcilers sweep the read model (level-triggered safety net). Default 1000 ms. */
  AM_RECONCILE_INTERVAL_MS: int(50, 600_000).default(1_000),
  /**
   * Lease of a planning/audit marker, renewed while the LLM call runs; another manager takes the work
   * over this long after its manager died. Default 30000 ms.
   */
  AM_MANAGER_MARKER_MS: int(1_000, 3_600_000).default(30_000),
  /** Requests per second per agent before 429. Default 1000. */
  AM_RATE_LIMIT_PER_SEC: int(1, 1_000_000).default(1_000),
  /** Largest accepted HTTP/NATS request body. Default 1 MiB. */
  AM_BODY_LIMIT_BYTES: int(1_024, 16 * 1024 * 1024).default(1024 * 1024),
  /** `auto` (openai when OPENAI_BASE_URL or OPENAI_API_KEY is set, else offline), `openai` or `offline`. */
  AM_LLM_PROVIDER: z.enum(['auto', 'openai', 'offline']).default('auto'),
  OPENAI_BASE_URL: optionalString,
  OPENAI_API_KEY: optionalString,
  /** Models per role. Default `gpt-4o-mini`. */
  AM_MODEL_PLANNER: z.string().default('gpt-4o-mini'),
  AM_MODEL_WORKER: z.string().default('gpt-4o-mini'),
  AM_MODEL_AUDITOR: z.string().default('gpt-4o-mini'),
  /** `json_schema` (strict structured output) or `json_object` (schema in the prompt). Default json_schema. */
  AM_LLM_STRUCTURED_OUTPUT: z.enum(['json_schema', 'json_object']).default('json_schema'),
  /** One LLM call's timeout. Default 60000 ms. */
  AM_LLM_TIMEOUT_MS: int(1_000, 600_000).default(60_000),
  /** ReAct steps per task before it fails. Default 8. */
  AM_MAX_STEPS: int(1, 100).default(8),
  /**
   * How long a long-running command (am server, am worker, am up, am demo) may take to stop after SIGTERM or
   * SIGINT before it exits anyway (a second signal exits at once). Workers give in-flight tasks half of it,
   * then release them. Default 10000 ms.
   */
  AM_SHUTDOWN_TIMEOUT_MS: int(1_000, 600_000).default(10_000),
  /**
   * A ready server whose read model lags the stream by more than this (the age of the oldest event it knows
   * of and has not applied) is not ready: /readyz 503, no commands, out of the NATS queue group. It is ready
   * again below a third of it. Default 3000 ms.
   */
  AM_READY_MAX_LAG_MS: int(100, 600_000).default(3_000),
  /**
   * The key that signs the dashboard's session cookies (HMAC-SHA256), at least 32 characters. Every server
   * behind one address must have the same one, or a session made on one is refused by the others. Default:
   * a random key per process (sessions end when the server restarts).
   */
  AM_SESSION_SECRET: optionalString.pipe(z.string().min(32, 'at least 32 characters').optional()),
  /**
   * An OTLP/HTTP collector (e.g. http://localhost:4318): `am server`, `am up` and `am worker` then export
   * trace spans to `<endpoint>/v1/traces` (docs/metrics.md "Tracing"). Unset: no tracing, nothing loaded.
   */
  AM_OTLP_ENDPOINT: optionalString,
  /** URL prefixes the worker's http_get tool may fetch, comma separated. Default: none (tool off). */
  AM_HTTP_GET_ALLOWLIST: optionalString,
  /** `am projections serve`: the Postgres read model's database (a postgres:// URL); `--postgres` wins. Unset: none. */
  AM_POSTGRES_URL: optionalString,
  /**
   * Browser origins (`scheme://host[:port]`, comma separated) besides the server's own that may call
   * `/mcp`; a request with any other `Origin` gets 403 (DNS-rebinding protection). Default: none.
   */
  AM_MCP_ALLOWED_ORIGINS: z
    .string()
    .optional()
    .transform((value, ctx) => {
      const origins: string[] = [];
      for (const entry of (value ?? '').split(',').map((s) => s.trim())) {
        if (entry === '') continue;
        const origin = canonicalOrigin(entry);
        if (origin === undefined) {
          ctx.addIssue({ code: 'custom', message: `${entry} is not an origin (scheme://host[:port])` });
          return z.NEVER;
        }
        origins.push(origin);
      }
      return Object.freeze(origins);
    }),
});

/**
 * `scheme://host[:port]` in its canonical form (lower case, no default port), as browsers send it in
 * `Origin`; undefined for anything else (a path, a query, credentials, no host).
 */
export function canonicalOrigin(entry: string): string | undefined {
  try {
    const url = new URL(entry);
    const bare = url.pathname.replace(/^\/$/, '') === '' && url.search === '' && url.hash === '';
    if (!bare || url.host === '' || url.username !== '' || url.password !== '') return undefined;
    // URL.origin is 'null' for schemes it does not know (chrome-extension:), which still name one origin.
    return url.origin !== 'null' ? url.origin : `${url.protocol}//${url.host}`;
  } catch {
    return undefined;
  }
}

export type Config = Readonly<z.output<typeof ConfigSchema>>;

/**
 * Parses the environment (and AM_CONFIG_FILE, a JSON object of the same keys) once. Fails fast with
 * AM_ERR_CONFIG_INVALID naming the bad key. Nothing else reads process.env.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  let fromFile: Record<string, unknown> = {};
  const file = env.AM_CONFIG_FILE;
  if (file) {
    try {
      fromFile = JSON.parse(readFileSync(resolve(file), 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new AppError('AM_ERR_CONFIG_INVALID', `AM_CONFIG_FILE ${file}: ${(error as Error).message}`);
    }
  }
  const merged: Record<string, unknown> = { ...fromFile };
  for (const key of Object.keys(ConfigSchema.shape)) {
    const value = env[key];
    if (value !== undefined) merged[key] = value;
  }
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue?.path[0] ?? 'config');
    throw new AppError('AM_ERR_CONFIG_INVALID', `${key}: ${issue?.message ?? 'invalid'}`, {
      details: { field: key },
    });
  }
  return Object.freeze(parsed.data);
}

/** The NATS servers as a list. */
export function natsServers(config: Config): string[] {
  return (config.NATS_URL ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
