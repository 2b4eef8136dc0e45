import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { AppError } from '../errors.ts';

/** The exclusive hold of one AM_HOME (or one read-model file) by this process. */
export interface HomeLock {
  /** The lock file (`<home>/am.lock`, `<db>.lock`); it holds the owner's pid. */
  readonly path: string;
  /** Gives this hold back; the file goes when the last hold of this process does. Idempotent. */
  release(): void;
}

const LOCK_FILE = 'am.lock';
/** A lock file with no pid yet is being written; older than this, its writer died in between. */
const EMPTY_LOCK_GRACE_MS = 5_000;
/** A takeover marker older than this was left by a process that died while taking a stale lock over. */
const TAKEOVER_STALE_MS = 5_000;
/** Lock files this process owns, with the number of holds on each (am up's stack and its NATS both hold one). */
const heldLocks = new Map<string, number>();
let lockExitHookInstalled = false;

/**
 * Takes `<home>/am.lock` for this process, or fails with one line naming the process that has it: two
 * processes running one AM_HOME would run two nats-servers on one JetStream store and overwrite each
 * other's admin.json, worker configs and NATS config. The file is created with O_EXCL, so exactly one
 * of two racing starts wins; a lock whose pid is no longer alive (a SIGKILL, a crash) is taken over.
 * Holds are counted per process, so the parts of one process may each take it. The file is removed on
 * release and, as a last resort, when the process exits.
 */
export function lockHome(home: string): HomeLock {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const path = resolve(home, LOCK_FILE);
  return lockPath(
    path,
    (pid) =>
      `AM_HOME ${resolve(home)} is in use by another AgentManager process (pid ${pid}) — stop it first or set another AM_HOME (if that pid is not AgentManager, delete ${path})`,
  );
}

/**
 * Takes `<file>.lock` for the read model at `dbPath`, as lockHome does for a home: a rebuild truncates
 * the tables a running server reads and writes, and two servers folding into one file would each
 * overwrite the other's rows and checkpoint. An in-memory database needs no lock.
 */
export function lockReadModelFile(dbPath: string): HomeLock {
  if (dbPath === ':memory:') return { path: dbPath, release: () => {} };
  const path = `${resolve(dbPath)}.lock`;
  return lockPath(
    path,
    (pid) =>
      `the read model ${resolve(dbPath)} is in use by another AgentManager process (pid ${pid}) — stop it first or use another file (if that pid is not AgentManager, delete ${path})`,
  );
}

function lockPath(path: string, inUse: (pid: string) => string): HomeLock {
  const holds = heldLocks.get(path);
  if (holds !== undefined) {
    heldLocks.set(path, holds + 1);
    return holdOf(path);
  }
  // Twice at most: a stale lock is removed once; losing the race for it after that is a real conflict.
  for (let attempt = 1; ; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = lockOwner(path);
      if (owner.alive || attempt >= 2) {
        throw new AppError('AM_ERR_CONFIG_INVALID', inUse(String(owner.pid ?? 'unknown')));
      }
      removeStaleLock(path, owner.pid);
    }
  }
  heldLocks.set(path, 1);
  if (!lockExitHookInstalled) {
    lockExitHookInstalled = true;
    // process.exit() (a second Ctrl-C, a closed stdout) skips the orderly release.
    process.once('exit', () => {
      for (const held of heldLocks.keys()) removeIfOurs(held);
    });
  }
  return holdOf(path);
}

function holdOf(path: string): HomeLock {
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      const holds = heldLocks.get(path) ?? 0;
      if (holds > 1) {
        heldLocks.set(path, holds - 1);
        return;
      }
      heldLocks.delete(path);
      removeIfOurs(path);
    },
  };
}

/**
 * Removes a lock whose owner `deadPid` is gone, holding `<lock>.takeover` (O_EXCL) meanwhile: two
 * starts that both found the same stale lock would otherwise race, and the later one could remove the
 * lock the earlier one had just taken. Inside the marker the lock goes only if it still names the dead
 * owner. A start that finds another takeover under way leaves the lock alone; its next try meets the
 * winner's lock. A marker left by a process that died mid-takeover is cleared once it is stale.
 */
function removeStaleLock(path: string, deadPid: number | null): void {
  const marker = `${path}.takeover`;
  if (!createExclusive(marker)) {
    if (!isOlderThan(marker, TAKEOVER_STALE_MS)) return;
    rmSync(marker, { force: true });
    if (!createExclusive(marker)) return;
  }
  try {
    if (lockOwner(path).pid === deadPid) rmSync(path, { force: true });
  } finally {
    rmSync(marker, { force: true });
  }
}

/** Creates `path` if it does not exist; false if it does. */
function createExclusive(path: string): boolean {
  try {
    closeSync(openSync(path, 'wx', 0o600));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

function isOlderThan(path: string, ms: number): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > ms;
  } catch {
    // Gone meanwhile: as good as stale.
    return true;
  }
}

/** Who holds a lock file, and whether that process still runs. */
function lockOwner(path: string): { pid: number | null; alive: boolean } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    // Gone since the failed create: try again.
    return { pid: null, alive: false };
  }
  const pid = Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0)
    return { pid: null, alive: !isOlderThan(path, EMPTY_LOCK_GRACE_MS) };
  // Our own pid in a file we do not hold is left from an earlier run (a container restarts with the same pid).
  if (pid === process.pid) return { pid, alive: false };
  try {
    process.kill(pid, 0);
    return { pid, alive: true };
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return { pid, alive: (error as NodeJS.ErrnoException).code === 'EPERM' };
  }
}

function removeIfOurs(path: string): void {
  try {
    if (Number.parseInt(readFileSync(path, 'utf8').trim(), 10) === process.pid) rmSync(path, { force: true });
  } catch {
    // Already gone.
  }
}
