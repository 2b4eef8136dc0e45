import { writeFileSync } from 'node:fs';
import { loadConfig } from '../../config.ts';
import type { AgentView, ClientConfig } from '../../protocol/index.ts';
import { embeddedNatsWorkerAccess } from '../../store/embedded-nats.ts';
import { ApiClient } from '../api-client.ts';
import { resolveClient } from '../resolve-client.ts';

export interface AgentsClientOptions {
  config?: string;
}

export interface AgentsAddOptions extends AgentsClientOptions {
  role: string;
  out?: string;
}

// What `am agents add | list | revoke` do (their options are in agents.ts; this file is loaded only when
// one of them runs).

export async function runAgentsAdd(id: string, opts: AgentsAddOptions): Promise<void> {
  const config = loadConfig();
  const target = resolveClient(config, opts.config);
  const client = new ApiClient(target);
  const reply = await client.request<{ agentId: string; role: string; token: string }>('POST', '/v1/agents', {
    agentId: id,
    role: opts.role,
  });
  if (opts.out === undefined) {
    process.stdout.write(
      `agent ${reply.agentId} (${reply.role}) registered; its token (shown once):\n${reply.token}\n`,
    );
    return;
  }
  const file: ClientConfig = {
    client_agent_id: reply.agentId,
    server_url: target.url,
    auth_token: reply.token,
    ...natsAccess(config.NATS_URL, config.AM_HOME, reply.role),
  };
  writeFileSync(opts.out, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  process.stdout.write(
    `agent ${reply.agentId} (${reply.role}) registered; wrote ${opts.out} (it holds the token; it is not shown again)\n` +
      `start it with: npx am worker --config ${opts.out}\n`,
  );
}

export async function runAgentsList(opts: AgentsClientOptions): Promise<void> {
  const client = new ApiClient(resolveClient(loadConfig(), opts.config));
  const { agents: list } = await client.request<{ agents: AgentView[] }>('GET', '/v1/agents');
  for (const agent of list) {
    process.stdout.write(
      `${agent.agentId.padEnd(24)} ${agent.role.padEnd(7)} ${agent.status.padEnd(8)} ${agent.createdAt}\n`,
    );
  }
  if (list.length === 0) process.stdout.write('no agents\n');
}

export async function runAgentsRevoke(id: string, opts: AgentsClientOptions): Promise<void> {
  const client = new ApiClient(resolveClient(loadConfig(), opts.config));
  await client.request('POST', `/v1/agents/${encodeURIComponent(id)}/revoke`);
  process.stdout.write(`agent ${id} revoked\n`);
}

/**
 * What `am worker --transport nats` needs besides the token: NATS_URL when set, else (for a worker) the
 * embedded server of `am up` on this machine with its worker user, so the file works over NATS too.
 */
function natsAccess(
  natsUrl: string | undefined,
  home: string,
  role: string,
): Pick<ClientConfig, 'nats_url' | 'nats_user' | 'nats_password'> {
  if (natsUrl !== undefined) return { nats_url: natsUrl };
  const embedded = role === 'worker' ? embeddedNatsWorkerAccess(home) : null;
  if (embedded === null) return {};
  return { nats_url: embedded.url, nats_user: embedded.user, nats_password: embedded.password };
}
