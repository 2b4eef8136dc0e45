import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lockHome, lockReadModelFile } from '../../../src/store/home-lock.ts';
import { makeTempDir, removeTempDir } from '../../kit/index.ts';

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  if (child.pid === undefined) throw new Error('could not start a process');
  return child.pid;
}

const homes: string[] = [];
function home(prefix: string): string {
  const dir = makeTempDir(prefix);
  homes.push(dir);
  return dir;
}

describe('lockHome on real files', () => {
  afterAll(() => {
    for (const dir of homes) removeTempDir(dir);
  });

  it('refuses a home whose lock names a live process, naming that pid', () => {
    const dir = home('am-lock-live');
    writeFileSync(join(dir, 'am.lock'), `${process.ppid}\n`);
    expect(() => lockHome(dir)).toThrow(`pid ${process.ppid}`);
    expect(readFileSync(join(dir, 'am.lock'), 'utf8').trim()).toBe(String(process.ppid));
  });

  it('takes over the lock of a process that is gone, and removes it on release', () => {
    const dir = home('am-lock-dead');
    writeFileSync(join(dir, 'am.lock'), `${deadPid()}\n`);
    const lock = lockHome(dir);
    expect(readFileSync(lock.path, 'utf8').trim()).toBe(String(process.pid));
    expect(existsSync(`${lock.path}.takeover`)).toBe(false);
    lock.release();
    expect(existsSync(lock.path)).toBe(false);
  });

  it('leaves a stale lock alone while another start is taking it over', () => {
    const dir = home('am-lock-race');
    const dead = deadPid();
    writeFileSync(join(dir, 'am.lock'), `${dead}\n`);
    writeFileSync(join(dir, 'am.lock.takeover'), '');
    expect(() => lockHome(dir)).toThrow('in use by another AgentManager process');
    // The other start's takeover decides; this one removed nothing under it.
    expect(readFileSync(join(dir, 'am.lock'), 'utf8').trim()).toBe(String(dead));
    expect(existsSync(join(dir, 'am.lock.takeover'))).toBe(true);
  });

  it('clears a takeover marker left by a start that died mid-takeover, then takes the lock', () => {
    const dir = home('am-lock-marker');
    writeFileSync(join(dir, 'am.lock'), `${deadPid()}\n`);
    const marker = join(dir, 'am.lock.takeover');
    writeFileSync(marker, '');
    const longAgo = new Date(Date.now() - 60_000);
    utimesSync(marker, longAgo, longAgo);
    const lock = lockHome(dir);
    expect(readFileSync(lock.path, 'utf8').trim()).toBe(String(process.pid));
    expect(existsSync(marker)).toBe(false);
    lock.release();
  });

  it('locks a read-model file beside it, refuses it to another live process, and needs none in memory', () => {
    const dir = home('am-lock-db');
    const db = join(dir, 'read-model.sqlite');
    const lock = lockReadModelFile(db);
    expect(lock.path).toBe(`${db}.lock`);
    expect(readFileSync(lock.path, 'utf8').trim()).toBe(String(process.pid));
    lock.release();
    writeFileSync(`${db}.lock`, `${process.ppid}\n`);
    expect(() => lockReadModelFile(db)).toThrow(
      `the read model ${db} is in use by another AgentManager process (pid ${process.ppid})`,
    );
    const memory = lockReadModelFile(':memory:');
    expect(memory.path).toBe(':memory:');
    expect(existsSync(':memory:.lock')).toBe(false);
    memory.release();
  });
});
