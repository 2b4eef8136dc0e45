import type { Command } from 'commander';
import type { AgentsAddOptions, AgentsClientOptions } from './agents.run.ts';

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
    .action(async (id: string, opts: AgentsAddOptions) =>
      (await import('./agents.run.ts')).runAgentsAdd(id, opts),
    );
  agents
    .command('list')
    .description('list agents')
    .option('--config <file>', 'a mcp_client_config.json naming the server and an admin token')
    .action(async (opts: AgentsClientOptions) => (await import('./agents.run.ts')).runAgentsList(opts));
  agents
    .command('revoke')
    .description('revoke an agent: its token stops working at once')
    .argument('<id>', 'agent id')
    .option('--config <file>', 'a mcp_client_config.json naming the server and an admin token')
    .action(async (id: string, opts: AgentsClientOptions) =>
      (await import('./agents.run.ts')).runAgentsRevoke(id, opts),
    );
}
