import type { Command } from 'commander';
import type { WorkerCommandOptions } from './worker.run.ts';

/**
 * `am worker --config FILE [--transport http|nats] [--concurrency N] [--metrics-port N [--metrics-host H]]`:
 * an LLM worker process.
 */
export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run a worker: claim READY tasks, run the ReAct agent, post results')
    .requiredOption(
      '--config <file>',
      'a mcp_client_config.json (am agents add … --out FILE writes one); its tool_modules and mcpServers add tools (docs/tools.md)',
    )
    .option('--transport <transport>', 'http or nats', 'http')
    .option('--concurrency <n>', 'tasks at once (default: the config file, else 1)', (v) =>
      Number.parseInt(v, 10),
    )
    .option(
      '--metrics-port <port>',
      'serve Prometheus metrics (model calls, tasks) on this port at /metrics (0: any free port); default off',
      (v) => Number.parseInt(v, 10),
    )
    .option('--metrics-host <host>', 'the address --metrics-port binds (default 127.0.0.1)')
    .option('--quiet', 'print nothing but errors')
    .action(async (opts: WorkerCommandOptions) => (await import('./worker.run.ts')).runWorker(opts));
}
