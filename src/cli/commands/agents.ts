import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import type { AgentView, ClientConfig } from '../../protocol/index.ts';
import { embeddedNatsWorkerAccess } from '../../store/embedded-nats.ts';
import { ApiClient } from '../api-client.ts';
import { resolveClient } from '../resolve-client.ts';

/** `am agents add ID --role worker|admin [--out FILE] | list | revoke ID` */
export function registerAgentsCommand(program: Command): void {
  const agents = program
    .command('agents')
    .description('the agent registry (tokens are stored as SHA-256 only)');
  agents
    .command('add')
    .description('register an agent; --out writes a ready mcp_client_config.json (the token is shown once)')
    .argument('<id>', 'agent id (A-Z a-z 0-9 _ -)')
    .requiredOption('--role <role>', 'worker or admin')
    .option('--out <file>', 'write a mcp_client_config.json for this agent (mode 0600)')
    .option('--config <file>', 'a mcp_client_config.json naming the server and an admin token')
    .action(async (id: string, opts: { role: string; out?: string; config?: string }) => {
      const config = loadConfig();
      const target = resolveClient(config, opts.config);
      const client = new ApiClient(target);
      const reply = await client.request<{ agentId: string; role: string; token: string }>(
        'POST',
        '/v1/agents',
        {
          agentId: id,
          role: opts.role,
        },
      );
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
    });
  agents
    .command('list')
    .description('list agents')
    .option('--config <file>', 'a mcp_client_config.json naming the server and an admin token')
    .action(async (opts: { config?: string }) => {
      const client = new ApiClient(resolveClient(loadConfig(), opts.config));
      const { agents: list } = await client.request<{ agents: AgentView[] }>('GET', '/v1/agents');
      for (const agent of list) {
        process.stdout.write(
          `${agent.agentId.padEnd(24)} ${agent.role.padEnd(7)} ${agent.status.padEnd(8)} ${agent.createdAt}\n`,
        );
      }
      if (list.length === 0) process.stdout.write('no agents\n');
    });
  agents
    .command('revoke')
    .description('revoke an agent: its token stops working at once')
    .argument('<id>', 'agent id')
    .option('--config <file>', 'a mcp_client_config.json naming the server and an admin token')
    .action(async (id: string, opts: { config?: string }) => {
      const client = new ApiClient(resolveClient(loadConfig(), opts.config));
      await client.request('POST', `/v1/agents/${encodeURIComponent(id)}/revoke`);
      process.stdout.write(`agent ${id} revoked\n`);
    });
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
