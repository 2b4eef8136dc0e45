import type { NatsConnection } from '@nats-io/nats-core';
import type { AppContext } from '../../node/app-context.ts';
import { type CommandService, startCommandService } from './command-service.ts';
import { startReadyNotifier } from './ready-notifier.ts';

export interface NatsServiceOptions {
  ctx: AppContext;
  /** The AM service user's connection; the caller owns it (drain it after stop()). */
  nc: NatsConnection;
  /** Queue group shared by every AM process. Default `am`. */
  queue?: string;
  /** Command subjects are `<prefix>.<Operation>`. Default `am.cmd.v1`. */
  prefix?: string;
  /** READY hints subject. Default `am.notify.v1.ready`. */
  readySubject?: string;
  /** Largest accepted request body. Default 1 MiB. */
  maxBytes?: number;
  /** Requests handled at once; more wait in the subscription buffer. Default 1024. */
  maxConcurrent?: number;
  /** Requests per second per agent before AM_ERR_RATE_LIMITED. Default 1000. */
  rateLimitPerSec?: number;
}

export interface NatsService {
  readonly commands: CommandService;
  /** Stops the hints, then the commands (in-flight requests still reply). Idempotent. */
  stop(): Promise<void>;
}

/** The whole NATS face of one AM process: the command service and the READY hints. */
export function startNatsService(opts: NatsServiceOptions): NatsService {
  const commands = startCommandService({
    ctx: opts.ctx,
    nc: opts.nc,
    ...(opts.queue === undefined ? {} : { queue: opts.queue }),
    ...(opts.prefix === undefined ? {} : { prefix: opts.prefix }),
    ...(opts.maxBytes === undefined ? {} : { maxBytes: opts.maxBytes }),
    ...(opts.maxConcurrent === undefined ? {} : { maxConcurrent: opts.maxConcurrent }),
    ...(opts.rateLimitPerSec === undefined ? {} : { rateLimitPerSec: opts.rateLimitPerSec }),
  });
  const stopHints = startReadyNotifier({
    ctx: opts.ctx,
    nc: opts.nc,
    ...(opts.readySubject === undefined ? {} : { subject: opts.readySubject }),
  });
  // A node that is not ready leaves the queue group until it is ready again.
  const stopFollowingReadiness = opts.ctx.readiness.onChange((snapshot) => {
    if (snapshot.ready) commands.resume();
    else commands.pause();
  });
  let stopped: Promise<void> | null = null;
  return {
    commands,
    stop() {
      stopped ??= (async () => {
        stopFollowingReadiness();
        stopHints();
        await commands.stop();
      })();
      return stopped;
    },
  };
}
