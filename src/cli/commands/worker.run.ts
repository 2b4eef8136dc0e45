import { serveMetrics } from '../../api/http/metrics/metrics-server.ts';
import { WorkerMetrics } from '../../api/http/metrics/worker-metrics.ts';
import { type Config, loadConfig } from '../../config.ts';
import { AppError, isAppError } from '../../errors.ts';
import { startTracing } from '../../node/tracing-setup.ts';
import type { ClientConfig } from '../../protocol/index.ts';
import { agentHandlers } from '../../worker/agent-handlers.ts';
import { loadClientConfig } from '../../worker/client-config-loader.ts';
import { HttpTransport } from '../../worker/http-transport.ts';
import { NatsTransport } from '../../worker/nats-transport.ts';
import { createWorker } from '../../worker/worker.ts';
import type { WorkerTransport } from '../../worker/worker-transport.ts';
import { agentsFromConfig, type ObservedAgents, type WorkerTools, workerTools } from '../agents-factory.ts';
import { preflight } from '../preflight.ts';
import { stopWithin, untilSignal } from '../process-signals.ts';

export interface WorkerCommandOptions {
  config: string;
  transport: string;
  concurrency?: number;
  quiet?: boolean;
  /** Serve /metrics on this port (0: any free one); off when absent. */
  metricsPort?: number;
  /** The address the metrics port binds. Default 127.0.0.1. */
  metricsHost?: string;
}

/** What `am worker` does (its options are in worker.ts; this file is loaded only when it runs). */
export async function runWorker(opts: WorkerCommandOptions): Promise<void> {
  const client = loadClientConfig(opts.config);
  const config = loadConfig();
  if (opts.transport !== 'http' && opts.transport !== 'nats') {
    throw new AppError(
      'AM_ERR_CONFIG_INVALID',
      `--transport: expected http or nats, got "${opts.transport}"`,
    );
  }
  const concurrency = opts.concurrency ?? client.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new AppError('AM_ERR_CONFIG_INVALID', `--concurrency: expected a positive integer`);
  }
  checkMetricsOptions(opts);
  await preflight(client.server_url, client.auth_token);
  const say = (line: string) => {
    if (!opts.quiet) process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  };
  // A stdio server's stderr is its log: shown unless --quiet, prefixed with the server's name.
  const tools = await workerTools(client, config, (server, line) => {
    if (!opts.quiet) process.stderr.write(`${new Date().toISOString()} [mcp ${server}] ${line}\n`);
  }).catch((error: unknown) => {
    // Name the file too: `worker.json: mcpServers.files: could not start …`.
    throw isAppError(error)
      ? new AppError(error.code, `${opts.config}: ${error.message}`, { cause: error })
      : error;
  });
  const tracing = await startTracing(config.AM_OTLP_ENDPOINT);
  try {
    await runWithTools(opts, client, config, { tools, say, concurrency });
  } finally {
    // Idempotent: normally already done inside the shutdown's deadline; this covers a failed start.
    await tools.close(toolsCloseMs(config.AM_SHUTDOWN_TIMEOUT_MS));
    await tracing.shutdown(Math.min(2_000, config.AM_SHUTDOWN_TIMEOUT_MS));
  }
}

/** What the MCP servers get of the shutdown budget; a child still running after it is SIGKILLed. */
function toolsCloseMs(shutdownTimeoutMs: number): number {
  return Math.max(500, Math.floor(shutdownTimeoutMs * 0.15));
}

async function runWithTools(
  opts: WorkerCommandOptions,
  client: ClientConfig,
  config: Config,
  { tools, say, concurrency }: { tools: WorkerTools; say: (line: string) => void; concurrency: number },
): Promise<void> {
  const agents = agentsFromConfig(config, tools.extra);
  const metrics = opts.metricsPort === undefined ? null : new WorkerMetrics({ llm: agents.llmMetrics });
  // Bound before anything else is opened: a taken port fails the start with nothing to undo.
  const metricsServer =
    metrics === null || opts.metricsPort === undefined
      ? null
      : await serveMetrics({
          registry: metrics.registry,
          port: opts.metricsPort,
          host: opts.metricsHost ?? '127.0.0.1',
        }).catch((error: unknown) => {
          throw new AppError('AM_ERR_CONFIG_INVALID', `--metrics-port: ${(error as Error).message}`, {
            cause: error,
          });
        });
  if (metricsServer !== null) say(`metrics on ${metricsServer.url}`);
  try {
    const transport = await connectTransport(opts, client, config);
    await runWorkerLoop(opts, client, config, { agents, tools, say, concurrency, transport, metrics });
  } finally {
    await metricsServer?.close();
  }
}

async function connectTransport(
  opts: WorkerCommandOptions,
  client: ClientConfig,
  config: Config,
): Promise<WorkerTransport> {
  if (opts.transport !== 'nats') {
    return new HttpTransport({ serverUrl: client.server_url, token: client.auth_token });
  }
  const servers = client.nats_url ?? config.NATS_URL;
  if (servers === undefined) {
    throw new AppError('AM_ERR_CONFIG_INVALID', `${opts.config}: nats_url: required for --transport nats`);
  }
  try {
    return await NatsTransport.connect({
      servers: servers.split(','),
      token: client.auth_token,
      name: `am-worker-${client.client_agent_id}`,
      ...(client.nats_user === undefined ? {} : { user: client.nats_user }),
      ...(client.nats_password === undefined ? {} : { password: client.nats_password }),
    });
  } catch (error) {
    throw natsConnectError(error, servers, opts.config, client);
  }
}

/** --metrics-host means nothing without --metrics-port; a port is 0 (any free one) to 65535. */
function checkMetricsOptions(opts: WorkerCommandOptions): void {
  if (opts.metricsPort === undefined) {
    if (opts.metricsHost !== undefined) {
      throw new AppError('AM_ERR_CONFIG_INVALID', '--metrics-host: needs --metrics-port');
    }
    return;
  }
  if (!Number.isInteger(opts.metricsPort) || opts.metricsPort < 0 || opts.metricsPort > 65_535) {
    throw new AppError('AM_ERR_CONFIG_INVALID', '--metrics-port: expected a port number (0 to 65535)');
  }
}

async function runWorkerLoop(
  opts: WorkerCommandOptions,
  client: ClientConfig,
  config: Config,
  {
    agents,
    tools,
    say,
    concurrency,
    transport,
    metrics,
  }: {
    agents: ObservedAgents;
    tools: WorkerTools;
    say: (line: string) => void;
    concurrency: number;
    transport: WorkerTransport;
    metrics: WorkerMetrics | null;
  },
): Promise<void> {
  let onRefused: (code: string) => void = () => {};
  const refused = new Promise<string>((resolve) => {
    onRefused = resolve;
  });
  const worker = createWorker(agentHandlers(agents), {
    transport,
    concurrency,
    // Within AM_SHUTDOWN_TIMEOUT_MS: half for in-flight tasks to finish, then releasing the rest.
    shutdownGraceMs: Math.floor(config.AM_SHUTDOWN_TIMEOUT_MS * 0.5),
    shutdownReleaseMs: Math.floor(config.AM_SHUTDOWN_TIMEOUT_MS * 0.3),
    ...(client.capabilities === undefined ? {} : { capabilities: client.capabilities }),
    onEvent: (event) => {
      metrics?.onEvent(event);
      switch (event.type) {
        case 'claimed':
          say(
            `claimed ${event.task.graphId}/${event.task.id} (attempt ${event.task.attempt}, cycle ${event.task.cycle})`,
          );
          return;
        case 'completed':
          say(`completed ${event.task.graphId}/${event.task.id}`);
          return;
        case 'failed':
          say(`failed ${event.task.graphId}/${event.task.id}: ${event.error.message}`);
          return;
        case 'released':
          say(`released ${event.task.graphId}/${event.task.id}: ${event.reason}`);
          return;
        case 'cancelled':
          say(`stopped ${event.task.graphId}/${event.task.id}: the graph was cancelled`);
          return;
        case 'lost':
          say(`lost ${event.task.graphId}/${event.task.id}: ${event.reason}`);
          return;
        case 'link':
          if (event.state === 'lost') {
            process.stderr.write(
              `${new Date().toISOString()} lost the server: ${event.detail} — retrying until it is back\n`,
            );
          } else {
            say(`server reachable again: ${event.detail}`);
          }
          return;
        case 'unauthorized':
          process.stderr.write(
            `${new Date().toISOString()} the server refused this agent (${event.code}: ${event.message}); stopping — if it was rotated, use the new config; if revoked, register a new agent\n`,
          );
          onRefused(event.code);
          return;
        case 'error':
          process.stderr.write(`${new Date().toISOString()} ${event.message}\n`);
          return;
        default: {
          const unreachable: never = event;
          return unreachable;
        }
      }
    },
  });
  const stopSignal = untilSignal();
  worker.start();
  say(
    `worker ${client.client_agent_id} connected to ${opts.transport === 'nats' ? 'NATS' : client.server_url} over ${opts.transport}, concurrency ${concurrency}, agents ${agents.provider}`,
  );
  say(`tools: ${tools.names.join(', ')}`);
  const ended = await Promise.race([stopSignal, refused.then((code) => ({ refused: code }))]);
  if (typeof ended === 'string') say(`${ended}: finishing in-flight work, releasing the rest`);
  await stopWithin(
    config.AM_SHUTDOWN_TIMEOUT_MS,
    () => worker.stop().finally(() => tools.close(toolsCloseMs(config.AM_SHUTDOWN_TIMEOUT_MS))),
    () =>
      process.stderr.write(`am worker: not stopped within ${config.AM_SHUTDOWN_TIMEOUT_MS} ms; exiting\n`),
  );
  say(
    `stopped (claimed ${worker.stats.claimed}, completed ${worker.stats.completed}, released ${worker.stats.released})`,
  );
  if (typeof ended !== 'string') {
    throw new AppError(
      'AM_ERR_AUTH_REVOKED',
      `the server refused agent ${client.client_agent_id} (${ended.refused})`,
    );
  }
}

/**
 * The transport says "cannot reach NATS" for every failed connect; a server that answered and refused
 * the user and password is a config mistake, not a network one, so it gets its own line.
 */
function natsConnectError(
  error: unknown,
  servers: string,
  configFile: string,
  client: { client_agent_id: string; nats_user?: string | undefined },
): unknown {
  const cause = error instanceof Error ? error.cause : undefined;
  const refused =
    (cause instanceof Error && cause.name === 'AuthorizationError') ||
    (error instanceof Error && /authorization violation/i.test(error.message));
  if (!refused) return error;
  const reason = cause instanceof Error ? cause.message : 'Authorization Violation';
  const rotate = `npx am agents rotate ${client.client_agent_id} --out ${configFile}`;
  const detail =
    client.nats_user === undefined
      ? `${configFile} has no nats_user / nats_password, and every agent connects to AM's NATS as its own user. An agent registered before NATS users gets them with: ${rotate}`
      : `check nats_user / nats_password in ${configFile}: the agent may have been revoked, or its credentials rotated since (new ones: ${rotate})`;
  return new AppError(
    'AM_ERR_AUTH_INVALID',
    `NATS at ${servers} refused the credentials (${reason}) — ${detail}`,
    {
      cause: error,
    },
  );
}
