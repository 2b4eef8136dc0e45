import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import { isAppError } from '../../../src/errors.ts';

function refusal(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (error) {
    if (isAppError(error)) return `${error.code} ${error.message}`;
    throw error;
  }
  return 'accepted';
}

describe('loadConfig', () => {
  it('refuses an admin token shorter than 32 characters, naming the key and how to make one', () => {
    expect(refusal({ AM_ADMIN_TOKEN: 'secret' })).toBe(
      'AM_ERR_CONFIG_INVALID AM_ADMIN_TOKEN: must be at least 32 characters (e.g. `openssl rand -hex 32`)',
    );
    expect(refusal({ AM_ADMIN_TOKEN: 'x'.repeat(31) })).toMatch(/^AM_ERR_CONFIG_INVALID AM_ADMIN_TOKEN/);
  });

  it('accepts a 32-character admin token, and none at all', () => {
    expect(loadConfig({ AM_ADMIN_TOKEN: 'x'.repeat(32) }).AM_ADMIN_TOKEN).toBe('x'.repeat(32));
    expect(loadConfig({}).AM_ADMIN_TOKEN).toBeUndefined();
  });
});
