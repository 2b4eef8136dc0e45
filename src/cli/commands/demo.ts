import type { Command } from 'commander';
import type { DemoOptions } from './demo.run.ts';

/** `am demo`: everything up in a temporary home, one goal solved offline, the answer and the trail printed, all shut down. */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'solve one goal end to end with the offline model and print the final answer and the audit trail',
    )
    .option('--timeout <seconds>', 'give up after this long', (v) => Number.parseInt(v, 10), 120)
    .action(async (opts: DemoOptions) => (await import('./demo.run.ts')).runDemo(opts));
}
