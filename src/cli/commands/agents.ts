import type { Command } from 'commander';
import type { AgentsAddOptions, AgentsClientOptions, AgentsRotateOptions } from './agents.run.ts';

/** `am agents add ID --role worker|admin [--out FILE] | list | rotate ID [--out FILE] | revoke ID` */
export function registerAgentsCommand(program: Command): void {
  const agents = program
    .command('agents')
    .description('the agent registry (tokens are stored as SHA-256, NATS passwords as bcrypt hashes only)');
  agents
    .command('add')
    .description(
      'register an agent; --out writes a ready mcp_client_config.json (the token and NATS password are shown once)',
    )
    .argument('<id>', 'agent id (A-Z a-z 0-9 _ -)')
    .requiredOption('--role <role>', 'worker or admin')
    .option('--out <file>', 'write a mcp_client_config.json for this agent (mode 0600)')
    .option(
      '--nats-url <url>',
      'with --out: the NATS URL(s) workers use (default NATS_URL, else the embedded server)',
    )
    .option(
      '--nats-user <user>',
      "with --out: a NATS user your NATS operator manages, written instead of the agent's own (add its password)",
    )
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
    .command('rotate')
    .description(
      'new token and NATS password for an agent (the old ones stop working); gives an agent registered before NATS users its NATS access',
    )
    .argument('<id>', 'agent id')
    .option('--out <file>', 'write a mcp_client_config.json with the new credentials (mode 0600)')
    .option(
      '--nats-url <url>',
      'with --out: the NATS URL(s) workers use (default NATS_URL, else the embedded server)',
    )
    .option('--nats-user <user>', 'with --out: a NATS user your NATS operator manages (add its password)')
    .option('--config <file>', 'a mcp_client_config.json naming the server and an admin token')
    .action(async (id: string, opts: AgentsRotateOptions) =>
      (await import('./agents.run.ts')).runAgentsRotate(id, opts),
    );
  agents
    .command('revoke')
    .description(
      'revoke an agent: its token and NATS user stop working at once, its waiting claims end, its held tasks are released',
    )
    .argument('<id>', 'agent id')
    .option('--config <file>', 'a mcp_client_config.json naming the server and an admin token')
    .action(async (id: string, opts: AgentsClientOptions) =>
      (await import('./agents.run.ts')).runAgentsRevoke(id, opts),
    );
}
