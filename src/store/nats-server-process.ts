import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { delimiter, join } from 'node:path';

export interface NatsServerProcessOptions {
  /** The nats-server executable. Default: `nats-server` on PATH, else `/usr/sbin/nats-server`. */
  binary?: string;
  /** Client port. Default: a free port chosen by the OS (and chosen again if it was taken meanwhile). */
  port?: number;
  /** JetStream store directory (`-sd`); created when missing. Required: the store outlives restarts. */
  storeDir: string;
  /** A server config file (`-c`), e.g. users and permissions. Default: none. */
  configFile?: string;
  /**
   * The config file names the store (`jetstream { store_dir }`), so no `-sd` is passed: nats-server 2.9
   * refuses a store dir in both places, and reloads a config only if its store dir is the running one,
   * which a store given on the command line never is. Default false.
   */
  storeDirInConfig?: boolean;
  /** More command-line arguments, appended last. Default: none. */
  extraArgs?: string[];
  /** Address to listen on (`-a`). Default: `127.0.0.1`. */
  host?: string;
  /** How long to wait for "Server is ready". Default: 15000 ms. */
  startTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before it sends SIGKILL. Default: 10000 ms. */
  stopTimeoutMs?: number;
  /**
   * Go scheduler threads of the child (GOMAXPROCS). Default: `GOMAXPROCS` from the environment, else
   * half the machine's cores (at least 1), see defaultGoMaxProcs.
   */
  goMaxProcs?: number;
}

export interface NatsServerProcess {
  /** `nats://<host>:<port>` */
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** The pid of the current child (changes on restart). */
  readonly pid: number;
  /** SIGTERM (a clean JetStream shutdown), then wait for the exit. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL (a crash: no shutdown, no flush), then wait for the exit. Idempotent. */
  kill(): Promise<void>;
  /** Starts again on the same port and store (stops the running server first, cleanly). */
  restart(): Promise<void>;
  /**
   * Has the server read its config file again (SIGHUP) and resolves once it reports the reload; rejects
   * with the server's reason when it refused the file (it then keeps the config it had).
   */
  reload(timeoutMs?: number): Promise<void>;
  /** The last lines the server logged, for error messages. */
  recentLog(): string[];
}

const DEFAULT_BINARY_FALLBACK = '/usr/sbin/nats-server';
const LOG_LINES_KEPT = 40;
const INSTALL_HINT =
  'Install nats-server (`apt-get install nats-server`, `brew install nats-server`, or run the `nats` container ' +
  'image with `-js`), or set NATS_URL to a running server with JetStream.';

/**
 * Starts a nats-server child with JetStream (`-js -sd <storeDir> -a <host> -p <port>`) and resolves once
 * it logs "Server is ready", which 2.9 prints only after JetStream has recovered its streams.
 */
export async function startNatsServerProcess(options: NatsServerProcessOptions): Promise<NatsServerProcess> {
  const server = new ServerChild(options);
  await server.start(options.port === undefined);
  return server;
}

/**
 * A nats-server that AM starts shares the machine with the AM server and its workers. Given every core,
 * Go keeps idle processors spinning in search of work, and on a 2-core machine that spinning cost the
 * server about twice the CPU per message (bench:throughput: 0.22 ms of nats-server CPU per task with
 * GOMAXPROCS=2, 0.12 with 1). So: GOMAXPROCS from the environment when set, else half the cores.
 */
export function defaultGoMaxProcs(): number {
  const fromEnv = Number(process.env.GOMAXPROCS);
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv;
  return Math.max(1, Math.floor(availableParallelism() / 2));
}

/** Resolves the default binary: `nats-server` on PATH, else the Debian package's location. */
export function resolveNatsServerBinary(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'nats-server');
    if (isExecutable(candidate)) return candidate;
  }
  return DEFAULT_BINARY_FALLBACK;
}

/** A TCP port that was free a moment ago (the OS picks it; there is a small race until it is bound again). */
export function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// Children still alive when this process exits (a crashed test run) would keep their ports and stores.
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of liveChildren) c.kill('SIGKILL');
    });
  }
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

class ServerChild implements NatsServerProcess {
  readonly storeDir: string;
  readonly #binary: string;
  readonly #host: string;
  readonly #options: NatsServerProcessOptions;
  #port: number;
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  #log: string[] = [];
  readonly #lineListeners = new Set<(line: string) => void>();
  /** Reloads one after the other: each waits for the report of its own SIGHUP. */
  #reloading: Promise<void> = Promise.resolve();

  constructor(options: NatsServerProcessOptions) {
    this.#options = options;
    this.#binary = options.binary ?? resolveNatsServerBinary();
    this.#host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? 0;
    this.storeDir = options.storeDir;
  }

  get url(): string {
    return `nats://${this.#host}:${this.#port}`;
  }
  get port(): number {
    return this.#port;
  }
  get pid(): number {
    return this.#child?.pid ?? -1;
  }

  recentLog(): string[] {
    return [...this.#log];
  }

  /** `mayPickPort`: a port we chose ourselves may be taken by someone else before the server binds it. */
  async start(mayPickPort: boolean): Promise<void> {
    const attempts = mayPickPort ? 3 : 1;
    for (let attempt = 1; ; attempt++) {
      if (mayPickPort) this.#port = await findFreePort(this.#host);
      try {
        await this.#spawnAndWait();
        return;
      } catch (error) {
        const portTaken = this.#log.some((line) => /address already in use/i.test(line));
        if (!portTaken || attempt >= attempts) throw error;
      }
    }
  }

  async stop(): Promise<void> {
    await this.#signal('SIGTERM', this.#options.stopTimeoutMs ?? 10_000);
  }

  async kill(): Promise<void> {
    await this.#signal('SIGKILL', 10_000);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.#spawnAndWait();
  }

  reload(timeoutMs = 5_000): Promise<void> {
    const next = this.#reloading.catch(() => {}).then(() => this.#reloadOnce(timeoutMs));
    this.#reloading = next;
    return next;
  }

  #reloadOnce(timeoutMs: number): Promise<void> {
    const child = this.#child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) {
      return Promise.reject(new Error('nats-server is not running'));
    }
    return new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer);
        this.#lineListeners.delete(onLine);
        if (error) reject(error);
        else resolve();
      };
      const onLine = (line: string) => {
        if (line.includes('Reloaded server configuration')) done();
        else if (line.includes('Failed to reload server configuration'))
          done(new Error(line.replace(/^.*?\[ERR\] /, '')));
      };
      const timer = setTimeout(
        () => done(this.#failure(`did not report a reload within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#lineListeners.add(onLine);
      child.kill('SIGHUP');
    });
  }

  async #signal(signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
    const child = this.#child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    try {
      await this.#exited;
    } finally {
      clearTimeout(timer);
    }
  }

  #spawnAndWait(): Promise<void> {
    mkdirSync(this.storeDir, { recursive: true });
    this.#log = [];
    const args = ['-js', ...(this.#options.storeDirInConfig ? [] : ['-sd', this.storeDir])];
    args.push('-a', this.#host, '-p', String(this.#port));
    if (this.#options.configFile !== undefined) args.push('-c', this.#options.configFile);
    args.push(...(this.#options.extraArgs ?? []));

    const goMaxProcs = this.#options.goMaxProcs ?? defaultGoMaxProcs();
    const child = spawn(this.#binary, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, GOMAXPROCS: String(goMaxProcs) },
    });
    this.#child = child;
    track(child);
    this.#exited = new Promise((resolve) => {
      // 'close' waits for the pipes too, so no log line arrives after the exit is reported.
      child.once('close', () => resolve());
      child.once('error', () => resolve());
    });

    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error === undefined) resolve();
        else {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          reject(error);
        }
      };
      const timeoutMs = this.#options.startTimeoutMs ?? 15_000;
      const timer = setTimeout(
        () => finish(this.#failure(`did not report "Server is ready" within ${timeoutMs} ms`)),
        timeoutMs,
      );
      let partial = '';
      const onData = (chunk: Buffer) => {
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          this.#log.push(line);
          if (this.#log.length > LOG_LINES_KEPT) this.#log.shift();
          for (const listener of this.#lineListeners) listener(line);
          if (line.includes('Server is ready')) finish();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', (error: NodeJS.ErrnoException) => {
        const missing = error.code === 'ENOENT' || error.code === 'EACCES';
        finish(
          missing
            ? new Error(`nats-server not found or not executable at "${this.#binary}". ${INSTALL_HINT}`, {
                cause: error,
              })
            : this.#failure(`could not be started: ${error.message}`, error),
        );
      });
      child.once('exit', (code, signal) => {
        // Let the pipes drain so the error carries the server's own explanation.
        setImmediate(() => finish(this.#failure(`exited during start (code ${code}, signal ${signal})`)));
      });
    });
  }

  #failure(what: string, cause?: unknown): Error {
    const tail = this.#log.slice(-15).join('\n');
    return new Error(
      `nats-server (${this.#binary}, port ${this.#port}, store ${this.storeDir}) ${what}.\n` +
        `Last log lines:\n${tail || '(none)'}`,
      cause === undefined ? undefined : { cause },
    );
  }
}
