import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { ApiClient } from '../api-client.ts';
import { resolveClient } from '../resolve-client.ts';

/** `am cancel ID`, `am retry ID` */
export function registerGraphActionCommands(program: Command): void {
  for (const [name, description] of [
    ['cancel', 'cancel a graph: dispatch stops, claims are voided'],
    ['retry', 'give the failed tasks of a failed graph a new attempt budget'],
  ] as const) {
    program
      .command(name)
      .description(description)
      .argument('<id>', 'graph id')
      .option('--config <file>', 'a mcp_client_config.json naming the server and an admin token')
      .action(async (id: string, opts: { config?: string }) => {
        const client = new ApiClient(resolveClient(loadConfig(), opts.config));
        const { seq } = await client.request<{ seq: number }>(
          'POST',
          `/v1/graphs/${encodeURIComponent(id)}/${name}`,
        );
        process.stdout.write(`${name === 'cancel' ? 'cancelled' : 'retried'} graph ${id} (seq ${seq})\n`);
      });
  }
}
