import type { Command } from 'commander';
import type { RebuildOptions, ServeOptions } from './projections.run.ts';

/**
 * `am projections rebuild`: replays the stream from sequence 1 into a read model file.
 * `am projections serve --postgres URL`: projects the stream into a Postgres read model and follows it.
 */
export function registerProjectionsCommand(program: Command): void {
  const projections = program.command('projections').description('read models');
  projections
    .command('rebuild')
    .description(
      "replay the whole stream into this process's read model (stop the server that uses the file first)",
    )
    .option(
      '--db <file>',
      'the SQLite file (default AM_DB, else $AM_HOME/read-model-<AM_HTTP_PORT>.sqlite, else the only server file in AM_HOME)',
    )
    .action(async (opts: RebuildOptions) =>
      (await import('./projections.run.ts')).runProjectionsRebuild(opts),
    );
  projections
    .command('serve')
    .description(
      'project the stream into a Postgres read model (tables graphs, tasks, results, audits, events): catch up from its checkpoint, then follow',
    )
    .option(
      '--postgres <url>',
      'the Postgres database, postgres://user[:password]@host[:port]/db (default AM_POSTGRES_URL)',
    )
    .option('--batch <n>', 'events per transaction at most (default 1000)', (v) => Number.parseInt(v, 10))
    .action(async (opts: ServeOptions) => (await import('./projections.run.ts')).runProjectionsServe(opts));
}
