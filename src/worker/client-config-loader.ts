import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { AppError } from '../errors.ts';
import { type ClientConfig, parseClientConfig } from '../protocol/index.ts';

/**
 * Reads a `mcp_client_config.json`. Every problem is one AM_ERR_CONFIG_INVALID naming the file and
 * the field, e.g. `worker.json: auth_token: Too small: expected string to have >=16 characters`.
 * Paths in it (`tool_modules`, a stdio MCP server's `cwd`) come back absolute, resolved against the
 * file's directory, so a worker behaves the same whichever directory it was started from; a stdio
 * server without a `cwd` gets that directory.
 */
export function loadClientConfig(path: string): ClientConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message;
    throw new AppError('AM_ERR_CONFIG_INVALID', `${path}: ${reason}`, { details: { field: '(file)' } });
  }
  const parsed = parseClientConfig(text);
  if (!parsed.ok) {
    throw new AppError('AM_ERR_CONFIG_INVALID', `${path}: ${parsed.field}: ${parsed.message}`, {
      details: { field: parsed.field },
    });
  }
  return resolvePaths(parsed.config, dirname(resolve(path)));
}

function resolvePaths(config: ClientConfig, dir: string): ClientConfig {
  const { tool_modules: modules, mcpServers: servers } = config;
  return {
    ...config,
    ...(modules === undefined ? {} : { tool_modules: modules.map((file) => resolve(dir, file)) }),
    ...(servers === undefined
      ? {}
      : {
          mcpServers: Object.fromEntries(
            Object.entries(servers).map(([name, server]) => [
              name,
              server.url === undefined ? { ...server, cwd: resolve(dir, server.cwd ?? '.') } : server,
            ]),
          ),
        }),
  };
}
