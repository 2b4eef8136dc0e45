import type { Command } from 'commander';
import type { ServerOptions } from './server.run.ts';

/** `am server [--port N] [--no-manager]`: one AM server process on an existing NATS (NATS_URL). */
export function registerServerCommand(program: Command): void {
  program
    .command('server')
    .description('run one AM server process: read model, HTTP API, NATS service and the manager')
    .option('--port <port>', 'HTTP port (default AM_HTTP_PORT or 8080)', (v) => Number.parseInt(v, 10))
    .option('--no-manager', 'do not run the manager reconcilers in this process')
    .action(async (opts: ServerOptions) => (await import('./server.run.ts')).runServer(opts));
}
