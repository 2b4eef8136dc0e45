import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { AppError } from '../../errors.ts';
import { managerAgents } from '../../manager/agents-adapter.ts';
import { agentsFromConfig } from '../agents-factory.ts';
import { createLogger } from '../logger.ts';
import { untilSignal } from '../process-signals.ts';
import { startServerRuntime } from '../server-runtime.ts';

/** `am server [--port N] [--no-manager]`: one AM server process on an existing NATS (NATS_URL). */
export function registerServerCommand(program: Command): void {
  program
    .command('server')
    .description('run one AM server process: read model, HTTP API, NATS service and the manager')
    .option('--port <port>', 'HTTP port (default AM_HTTP_PORT or 8080)', (v) => Number.parseInt(v, 10))
    .option('--no-manager', 'do not run the manager reconcilers in this process')
    .action(async (opts: { port?: number; manager: boolean }) => {
      const config = loadConfig();
      if (config.NATS_URL === undefined) {
        throw new AppError(
          'AM_ERR_CONFIG_INVALID',
          'NATS_URL is not set: "am server" joins an existing NATS server; use "am up" for an embedded one',
        );
      }
      const log = createLogger(config, 'am-server');
      const agents = agentsFromConfig(config);
      const stopSignal = untilSignal();
      const runtime = await startServerRuntime({
        config,
        log,
        agents: managerAgents(agents),
        manager: opts.manager && config.AM_MANAGER,
        ...(opts.port === undefined ? {} : { port: opts.port }),
      });
      process.stdout.write(
        `AM server listening on ${runtime.url} (NATS ${config.NATS_URL}, agents: ${agents.provider}, manager: ${opts.manager && config.AM_MANAGER ? 'on' : 'off'})\n`,
      );
      await stopSignal;
      await runtime.stop();
    });
}
