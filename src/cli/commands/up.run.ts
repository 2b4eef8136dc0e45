import { loadConfig } from '../../config.ts';
import { agentsFromConfig } from '../agents-factory.ts';
import { startLocalStack } from '../local-stack.ts';
import { createLogger } from '../logger.ts';
import { stopWithin, untilFatal, untilSignal } from '../process-signals.ts';

export interface UpOptions {
  workers: number;
}

/** What `am up` does (its options are in up.ts, loaded at every start; this file only when it runs). */
export async function runUp(opts: UpOptions): Promise<void> {
  const config = loadConfig();
  const log = createLogger(
    { AM_LOG_LEVEL: config.AM_LOG_LEVEL === 'info' ? 'warn' : config.AM_LOG_LEVEL },
    'am-up',
  );
  const agents = agentsFromConfig(config);
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const stopSignal = untilSignal();
  const fatal = untilFatal();
  const starting = startLocalStack({
    config,
    log,
    agents,
    workers: opts.workers,
    workerMode: 'process',
    print,
    onFatal: fatal.report,
  });
  // A signal while starting ends the start within the same deadline as a later one.
  const started = await Promise.race([
    starting.then(() => 'up' as const),
    stopSignal.then(() => 'signal' as const),
    fatal.failed.then(() => 'failed' as const),
  ]);
  if (started === 'up') {
    const stack = await starting;
    // One write: whoever reads the first line (a person, a script, a test) sees the whole banner.
    print(
      [
        `AgentManager is up at ${stack.url}`,
        `  NATS:    ${stack.embedded ? `${stack.embedded.url} (embedded, store in ${config.AM_HOME}/nats)` : config.NATS_URL}`,
        `  agents:  ${agents.provider === 'offline' ? 'offline (deterministic, no network; set OPENAI_API_KEY or OPENAI_BASE_URL for a real LLM)' : `openai-compatible at ${config.OPENAI_BASE_URL ?? 'https://api.openai.com/v1'}, models planner ${config.AM_MODEL_PLANNER}, worker ${config.AM_MODEL_WORKER}, auditor ${config.AM_MODEL_AUDITOR}${config.OPENAI_API_KEY === undefined && config.OPENAI_BASE_URL === undefined ? ' — WARNING: AM_LLM_PROVIDER=openai but neither OPENAI_API_KEY nor OPENAI_BASE_URL is set: every model call will fail' : ''}`}`,
        `  admin:   ${stack.adminConfigPath}${config.AM_ADMIN_TOKEN ? ' (token from AM_ADMIN_TOKEN)' : ''}`,
        `  workers: ${opts.workers} local`,
        ...(opts.workers > 0
          ? [
              'Try:',
              '  npx am submit "Compare three ways to cache API responses and estimate 1200*0.35 requests saved" --wait',
            ]
          : [
              'No worker is running, so submitted graphs wait: start one first, e.g.',
              `  npx am agents add w1 --role worker --out w1.json && npx am worker --config w1.json`,
            ]),
        'Stop with Ctrl-C.',
      ].join('\n'),
    );
  }
  const ended =
    started === 'up' ? await Promise.race([stopSignal, fatal.failed.then(() => 'failed' as const)]) : started;
  print('stopping…');
  await stopWithin(
    config.AM_SHUTDOWN_TIMEOUT_MS,
    async () => (await starting).stop(),
    () => process.stderr.write(`am up: not stopped within ${config.AM_SHUTDOWN_TIMEOUT_MS} ms; exiting\n`),
  );
  if (ended === 'failed') {
    process.stderr.write('am up: the projector stopped after an error; exiting\n');
    process.exit(1);
  }
}
