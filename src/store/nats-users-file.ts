import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { type NatsAgentUser, natsUsersInclude } from './nats-config.ts';

export interface NatsUsersFileOptions {
  /** The file a nats-server config includes inside `authorization { include "<path>" }`. */
  path: string;
  /** The AM processes' user, named in the file; its password is `$AM_NATS_SERVICE_PASSWORD`. */
  serviceUser: string;
  /** nats-server's pid file (`pid_file`); when given, the server is told to reload (SIGHUP) after a write. */
  pidFile?: string;
}

/**
 * A sink for NatsUsersSync that maintains the users file of a nats-server this process does not own
 * (deploy/nats): the service user (its password from the server's environment) and every agent's user.
 * Without `pidFile`, whoever runs the server must reload it (`nats-server --signal reload`).
 */
export function natsUsersFileSink(
  opts: NatsUsersFileOptions,
): (agents: readonly NatsAgentUser[]) => Promise<void> {
  return async (agents) => {
    const text = natsUsersInclude({
      service: { user: opts.serviceUser, password: { env: 'AM_NATS_SERVICE_PASSWORD' } },
      agents,
    });
    const temporary = `${opts.path}.${process.pid}.tmp`;
    writeFileSync(temporary, text, { mode: 0o600 });
    renameSync(temporary, opts.path);
    if (opts.pidFile === undefined) return;
    const pid = Number.parseInt(readFileSync(opts.pidFile, 'utf8').trim(), 10);
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no pid in ${opts.pidFile}`);
    process.kill(pid, 'SIGHUP');
  };
}
