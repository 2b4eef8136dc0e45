import type { Command } from 'commander';
import type { EventsOptions } from './events.run.ts';

/** `am events ID [--follow] [--json]`: the audit trail, read from the stream. */
export function registerEventsCommand(program: Command): void {
  program
    .command('events')
    .description("print a graph's audit trail (its events, in order)")
    .argument('<id>', 'graph id')
    .option('--follow', 'keep printing new events until the graph ends (Ctrl-C to stop)')
    .option('--json', 'one JSON object per line')
    .option('--config <file>', 'a mcp_client_config.json naming the server and token')
    .action(async (id: string, opts: EventsOptions) => (await import('./events.run.ts')).runEvents(id, opts));
}
