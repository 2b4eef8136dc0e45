import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';

const SERVER_FILE = /^read-model-(\d+)\.sqlite$/;

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
  const own = `read-model-${config.AM_HTTP_PORT}.sqlite`;
  const files = serverFiles(config.AM_HOME);
  const byPort = (name: string) => `the read model of the server on port ${SERVER_FILE.exec(name)?.[1]}`;
  if (files.some((file) => file.name === own)) {
    return { path: join(config.AM_HOME, own), why: byPort(own) };
  }
  const [only, ...more] = files;
  if (only === undefined) {
    return {
      path: join(config.AM_HOME, own),
      why: `a new file: no server has used ${config.AM_HOME} yet (AM_HTTP_PORT ${config.AM_HTTP_PORT})`,
    };
  }
  if (more.length === 0) {
    return {
      path: join(config.AM_HOME, only.name),
      why: `${byPort(only.name)}, the only one in ${config.AM_HOME} (none for AM_HTTP_PORT ${config.AM_HTTP_PORT})`,
    };
  }
  const listed = files
    .map(
      (file) =>
        `  ${join(config.AM_HOME, file.name)} (port ${SERVER_FILE.exec(file.name)?.[1]}, last written ${file.modified})`,
    )
    .join('\n');
  throw new AppError(
    'AM_ERR_CONFIG_INVALID',
    `${config.AM_HOME} holds the read models of several servers and none for AM_HTTP_PORT ${config.AM_HTTP_PORT}:\n${listed}\nchoose one with --db FILE (or set AM_HTTP_PORT to its server's port)`,
  );
}

function serverFiles(home: string): Array<{ name: string; modified: string }> {
  let names: string[];
  try {
    names = readdirSync(home);
  } catch {
    return [];
  }
  return names
    .filter((name) => SERVER_FILE.test(name))
    .sort()
    .map((name) => ({ name, modified: statSync(join(home, name)).mtime.toISOString() }));
}
