import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';

const SERVER_FILE = /^read-model-(\d+)\.sqlite$/;

/** The read-model file a server on `port` uses in `home` when AM_DB does not name one. */
export function serverReadModelFile(home: string, port: number): string {
  return join(home, `read-model-${port}.sqlite`);
}

export interface ReadModelFile {
  path: string;
  /** Which server the file belongs to, or why it was chosen: for the command's first line. */
  why: string;
}

/**
 * The read-model file a command such as `am projections rebuild` works on: `--db`, else AM_DB, else the
 * file of the server on AM_HTTP_PORT in AM_HOME. A server names its file after its port, so a rebuild run
 * without the server's AM_HTTP_PORT would quietly build a new file for the default port: when AM_HOME
 * holds no file for that port but exactly one other server's file, that one is taken (and said so);
 * with several, the command is refused with the list.
 */
export function chooseReadModelFile(config: Config, explicit: string | undefined): ReadModelFile {
  if (explicit !== undefined) return { path: explicit, why: 'given with --db' };
  if (config.AM_DB !== undefined) return { path: config.AM_DB, why: 'AM_DB' };
  const home = config.AM_HOME;
  const ownPort = config.AM_HTTP_PORT;
  const byPort = (port: number) => `the read model of the server on port ${port}`;
  const files = serverFiles(home);
  if (files.some((file) => file.port === ownPort)) {
    return { path: serverReadModelFile(home, ownPort), why: byPort(ownPort) };
  }
  const [only, ...more] = files;
  if (only === undefined) {
    return {
      path: serverReadModelFile(home, ownPort),
      why: `a new file: no server has used ${home} yet (AM_HTTP_PORT ${ownPort})`,
    };
  }
  if (more.length === 0) {
    return {
      path: only.path,
      why: `${byPort(only.port)}, the only one in ${home} (none for AM_HTTP_PORT ${ownPort})`,
    };
  }
  const listed = files
    .map(
      (file) => `  ${file.path} (port ${file.port}, last written ${statSync(file.path).mtime.toISOString()})`,
    )
    .join('\n');
  throw new AppError(
    'AM_ERR_CONFIG_INVALID',
    `${home} holds the read models of several servers and none for AM_HTTP_PORT ${ownPort}:\n${listed}\nchoose one with --db FILE (or set AM_HTTP_PORT to its server's port)`,
  );
}

/** The servers' read-model files in `home`, by port. */
function serverFiles(home: string): Array<{ path: string; port: number }> {
  let names: string[];
  try {
    names = readdirSync(home);
  } catch {
    return [];
  }
  return names.sort().flatMap((name) => {
    const port = SERVER_FILE.exec(name)?.[1];
    return port === undefined ? [] : [{ path: join(home, name), port: Number(port) }];
  });
}
