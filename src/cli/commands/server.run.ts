import { loadConfig } from '../../config.ts';
import { AppError } from '../../errors.ts';
import { managerAgents } from '../../manager/agents-adapter.ts';
import { agentsFromConfig } from '../agents-factory.ts';
import { createLogger } from '../logger.ts';
import { stopWithin, untilFatal, untilSignal } from '../process-signals.ts';
import { reportCatchUp } from '../report-catch-up.ts';
import { startServerRuntime } from '../server-runtime.ts';

export interface ServerOptions {
  port?: number;
  manager: boolean;
}

/** What `am server` does (its options are in server.ts; this file is loaded only when it runs). */
export async function runServer(opts: ServerOptions): Promise<void> {
  const config = loadConfig();
  if (config.NATS_URL === undefined) {
    throw new AppError(
      'AM_ERR_CONFIG_INVALID',
      'NATS_URL is not set: "am server" joins an existing NATS server; use "am up" for an embedded one',
    );
  }
  const log = createLogger(config, 'am-server');
  const agents = agentsFromConfig(config);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const stopSignal = untilSignal();
  const fatal = untilFatal();
  const starting = startServerRuntime({
    config,
    log,
    agents: managerAgents(agents),
    manager: opts.manager && config.AM_MANAGER,
    onFatal: fatal.report,
    ...(opts.port === undefined ? {} : { port: opts.port }),
  });
  const stop = () =>
    stopWithin(
      config.AM_SHUTDOWN_TIMEOUT_MS,
      async () => (await starting).stop(),
      () =>
        process.stderr.write(`am server: not stopped within ${config.AM_SHUTDOWN_TIMEOUT_MS} ms; exiting\n`),
    );
  // A signal or a failure while starting (or catching up) ends the start as promptly as a later one.
  const started = await Promise.race([
    starting.then((runtime) => reportCatchUp(runtime, say)).then(() => 'ready' as const),
    stopSignal.then(() => 'signal' as const),
    fatal.failed.then(() => 'failed' as const),
  ]);
  if (started === 'ready') {
    const runtime = await starting;
    say(
      `AM server listening on ${runtime.url} (NATS ${config.NATS_URL}, agents: ${agents.provider}, manager: ${opts.manager && config.AM_MANAGER ? 'on' : 'off'})`,
    );
  }
  const ended =
    started === 'ready'
      ? await Promise.race([stopSignal, fatal.failed.then(() => 'failed' as const)])
      : started;
  await stop();
  if (ended === 'failed') {
    // The read model can no longer be trusted: a supervisor restarts the process, which replays from its checkpoint.
    process.stderr.write('am server: the projector stopped after an error; exiting for a restart\n');
    process.exit(1);
  }
}
