import type { Command } from 'commander';
import type { SubmitOptions } from './submit.run.ts';

/** `am submit "<goal>" | --graph FILE [--wait]` */
export function registerSubmitCommand(program: Command): void {
  program
    .command('submit')
    .description('submit a goal (planned by the manager) or an explicit graph; --wait follows it to the end')
    .argument('[goal]', 'the goal')
    .option(
      '--graph <file>',
      'a JSON file { goal, tasks: [{ id, title, instructions, dependsOn? }], options? }',
    )
    .option('--wait', 'show live progress; exit 0 when the graph succeeds, 2 when it fails or is cancelled')
    .option('--idempotency-key <key>', 'a repeat with the same key returns the same graph')
    .option('--config <file>', 'a mcp_client_config.json naming the server and token')
    .action(async (goal: string | undefined, opts: SubmitOptions) =>
      (await import('./submit.run.ts')).runSubmit(goal, opts),
    );
}
