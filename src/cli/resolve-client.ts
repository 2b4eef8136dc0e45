import { join, resolve } from 'node:path';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import { loadClientConfig } from '../worker/client-config-loader.ts';

export interface ClientTarget {
  url: string;
  token: string;
  /** Where the target came from, for error messages. */
  source: string;
}

/**
 * How client commands find the server (DESIGN.md): `--config FILE`, else AM_URL + AM_TOKEN, else
 * `$AM_HOME/admin.json` (written by `am up`).
 */
export function resolveClient(
  config: Pick<Config, 'AM_URL' | 'AM_TOKEN' | 'AM_HOME'>,
  configFile?: string,
): ClientTarget {
  if (configFile !== undefined) {
    const client = loadClientConfig(configFile);
    return { url: client.server_url, token: client.auth_token, source: configFile };
  }
  if (config.AM_URL !== undefined && config.AM_TOKEN !== undefined) {
    return { url: config.AM_URL, token: config.AM_TOKEN, source: 'AM_URL/AM_TOKEN' };
  }
  const adminFile = resolve(join(config.AM_HOME, 'admin.json'));
  try {
    const client = loadClientConfig(adminFile);
    return { url: client.server_url, token: client.auth_token, source: adminFile };
  } catch {
    throw new AppError(
      'AM_ERR_CONFIG_INVALID',
      `no server configured: looked for ${adminFile} (AM_HOME=${config.AM_HOME}) — pass --config FILE, set AM_URL and AM_TOKEN, or run "npm start" there (it writes that file)`,
    );
  }
}
