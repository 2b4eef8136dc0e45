import { writeFileSync } from 'node:fs';
import { loadConfig } from '../../config.ts';
import type { AgentView, ClientConfig, RegisterAgentReply } from '../../protocol/index.ts';
import { embeddedNatsUrl } from '../../store/embedded-nats.ts';
import { ApiClient } from '../api-client.ts';
import { resolveClient } from '../resolve-client.ts';

export interface AgentsClientOptions {
  config?: string;
}

/** Where the agent's file says its NATS is, when `am agents add|rotate --out` is told. */
export interface NatsTargetOptions {
  /** The NATS URL(s) workers use (e.g. a cluster's `tls://` addresses); else NATS_URL, else the embedded server's. */
  natsUrl?: string;
  /** A NATS user the operator manages (accounts/JWT): written instead of the agent's own user, without a password. */
  natsUser?: string;
}

export interface AgentsAddOptions extends AgentsClientOptions, NatsTargetOptions {
  role: string;
  out?: string;
}

// What `am agents add | list | revoke` do (their options are in agents.ts; this file is loaded only when
// one of them runs).

export interface AgentsRotateOptions extends AgentsClientOptions, NatsTargetOptions {
  out?: string;
}

export async function runAgentsAdd(id: string, opts: AgentsAddOptions): Promise<void> {
  const config = loadConfig();
  const target = resolveClient(config, opts.config);
  const client = new ApiClient(target);
  const reply = await client.request<RegisterAgentReply>('POST', '/v1/agents', {
    agentId: id,
    role: opts.role,
  });
  showCredentials(reply, 'registered', target.url, config, opts);
}

/** New token and NATS password (the old ones stop working); how a pre-NATS-user agent gets NATS access. */
export async function runAgentsRotate(id: string, opts: AgentsRotateOptions): Promise<void> {
  const config = loadConfig();
  const target = resolveClient(config, opts.config);
  const client = new ApiClient(target);
  const reply = await client.request<RegisterAgentReply>(
    'POST',
    `/v1/agents/${encodeURIComponent(id)}/rotate`,
  );
  showCredentials(reply, 'has new credentials', target.url, config, opts);
}

/** Prints the secrets once, or writes them into a mcp_client_config.json (mode 0600) and says where. */
function showCredentials(
  reply: RegisterAgentReply,
  what: string,
  serverUrl: string,
  config: ReturnType<typeof loadConfig>,
  opts: NatsTargetOptions & { out?: string },
): void {
  const { out } = opts;
  if (out === undefined) {
    process.stdout.write(
      `agent ${reply.agentId} (${reply.role}) ${what}; shown once:\n` +
        `token:         ${reply.token}\n` +
        `nats_user:     ${reply.natsUser}\n` +
        `nats_password: ${reply.natsPassword}\n`,
    );
    return;
  }
  const natsUrl = opts.natsUrl ?? config.NATS_URL ?? embeddedNatsUrl(config.AM_HOME) ?? undefined;
  const file: ClientConfig = {
    client_agent_id: reply.agentId,
    server_url: serverUrl,
    auth_token: reply.token,
    ...(natsUrl === undefined ? {} : { nats_url: natsUrl }),
    // A user the operator manages has a password AM never sees: the file leaves it for them to add.
    ...(opts.natsUser === undefined
      ? { nats_user: reply.natsUser, nats_password: reply.natsPassword }
      : { nats_user: opts.natsUser }),
  };
  writeFileSync(out, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  process.stdout.write(
    `agent ${reply.agentId} (${reply.role}) ${what}; wrote ${out} (it holds the token${opts.natsUser === undefined ? ' and NATS password' : ''}; they are not shown again)\n` +
      (natsUrl === undefined
        ? `no NATS address known here (NATS_URL unset, no embedded server): add nats_url to ${out} for --transport nats, or pass --nats-url\n`
        : '') +
      (opts.natsUser === undefined
        ? ''
        : `add nats_password for NATS user ${opts.natsUser} to ${out} before starting a NATS worker\n`) +
      `start it with: npx am worker --config ${out}\n`,
  );
}

export async function runAgentsList(opts: AgentsClientOptions): Promise<void> {
  const client = new ApiClient(resolveClient(loadConfig(), opts.config));
  const { agents: list } = await client.request<{ agents: AgentView[] }>('GET', '/v1/agents');
  for (const agent of list) {
    process.stdout.write(
      `${agent.agentId.padEnd(24)} ${agent.role.padEnd(7)} ${agent.status.padEnd(8)} ${agent.createdAt}  ${agent.natsUser ?? '(no NATS user: rotate)'}\n`,
    );
  }
  if (list.length === 0) process.stdout.write('no agents\n');
}

export async function runAgentsRevoke(id: string, opts: AgentsClientOptions): Promise<void> {
  const client = new ApiClient(resolveClient(loadConfig(), opts.config));
  await client.request('POST', `/v1/agents/${encodeURIComponent(id)}/revoke`);
  process.stdout.write(`agent ${id} revoked\n`);
}
