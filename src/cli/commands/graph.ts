import type { Command } from 'commander';
import type { GraphOptions } from './graph.run.ts';

/** `am graph ID [--json]`: the DAG as a tree with statuses. */
export function registerGraphCommand(program: Command): void {
  program
    .command('graph')
    .description('show a graph: the DAG as a tree with statuses, audits and the final answer')
    .argument('<id>', 'graph id')
    .option('--json', 'print the whole TaskGraph as JSON')
    .option('--config <file>', 'a mcp_client_config.json naming the server and token')
    .action(async (id: string, opts: GraphOptions) => (await import('./graph.run.ts')).runGraph(id, opts));
}
