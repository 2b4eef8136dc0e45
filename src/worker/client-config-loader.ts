import { readFileSync } from 'node:fs';
import { AppError } from '../errors.ts';
import { type ClientConfig, parseClientConfig } from '../protocol/index.ts';

/**
 * Reads a `mcp_client_config.json`. Every problem is one AM_ERR_CONFIG_INVALID naming the file and
 * the field, e.g. `worker.json: auth_token: Too small: expected string to have >=16 characters`.
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
  return parsed.config;
}
