import type { Command } from 'commander';
import type { GraphActionOptions } from './graph-actions.run.ts';

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
      .action(async (id: string, opts: GraphActionOptions) =>
        (await import('./graph-actions.run.ts')).runGraphAction(name, id, opts),
      );
  }
}
