import type { Command } from 'commander';
import type { UpOptions } from './up.run.ts';

/** `am up` (what `npm start` runs): NATS, one server process and two local workers. */
export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description(
      'run everything locally: embedded NATS (unless NATS_URL), the server with its manager, two workers',
    )
    .option('--workers <n>', 'local worker processes', (v) => Number.parseInt(v, 10), 2)
    .action(async (opts: UpOptions) => (await import('./up.run.ts')).runUp(opts));
}
