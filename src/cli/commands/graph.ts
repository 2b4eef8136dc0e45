import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import type { TaskGraph } from '../../protocol/index.ts';
import { ApiClient } from '../api-client.ts';
import { renderGraphTree } from '../render.ts';
import { resolveClient } from '../resolve-client.ts';

/** `am graph ID [--json]`: the DAG as a tree with statuses. */
export function registerGraphCommand(program: Command): void {
  program
    .command('graph')
    .description('show a graph: the DAG as a tree with statuses, audits and the final answer')
    .argument('<id>', 'graph id')
    .option('--json', 'print the whole TaskGraph as JSON')
    .option('--config <file>', 'a mcp_client_config.json naming the server and token')
    .action(async (id: string, opts: { json?: boolean; config?: string }) => {
      const client = new ApiClient(resolveClient(loadConfig(), opts.config));
      const graph = await client.request<TaskGraph>('GET', `/v1/graphs/${encodeURIComponent(id)}`);
      process.stdout.write(opts.json ? `${JSON.stringify(graph, null, 2)}\n` : `${renderGraphTree(graph)}\n`);
    });
}
