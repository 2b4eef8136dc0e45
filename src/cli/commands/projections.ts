import type { Command } from 'commander';
import type { RebuildOptions } from './projections.run.ts';

/** `am projections rebuild`: replays the stream from sequence 1 into a read model file. */
export function registerProjectionsCommand(program: Command): void {
  const projections = program.command('projections').description('read models');
  projections
    .command('rebuild')
    .description(
      "replay the whole stream into this process's read model (stop the server that uses the file first)",
    )
    .option('--db <file>', 'the SQLite file (default AM_DB, else $AM_HOME/read-model-<port>.sqlite)')
    .action(async (opts: RebuildOptions) =>
      (await import('./projections.run.ts')).runProjectionsRebuild(opts),
    );
}
