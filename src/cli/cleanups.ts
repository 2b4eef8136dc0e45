import type { Logger } from 'pino';

/**
 * Shutdown steps of a long-running command, run in reverse order of registration (the last thing started
 * stops first). Every step runs even when one fails, and none may take longer than its bound: a step that
 * overruns is logged and left behind, so a dead NATS or server cannot hold a shutdown open.
 */
export class Cleanups {
  readonly #steps: Array<{ name: string; run: () => Promise<void>; timeoutMs: number }> = [];
  #running: Promise<void> | null = null;

  constructor(private readonly log: Logger) {}

  /** Registers a step; `timeoutMs` bounds it (default 3000 ms). */
  push(name: string, run: () => Promise<void>, timeoutMs = 3_000): void {
    this.#steps.push({ name, run, timeoutMs });
  }

  /** Runs every step once, newest first. Idempotent: later calls wait for the first. */
  runAll(): Promise<void> {
    this.#running ??= (async () => {
      for (const step of this.#steps.splice(0).reverse()) {
        let timer: NodeJS.Timeout | undefined;
        const overrun = new Promise<'overrun'>((resolve) => {
          timer = setTimeout(() => resolve('overrun'), step.timeoutMs);
        });
        try {
          const outcome = await Promise.race([step.run().then(() => 'done' as const), overrun]);
          if (outcome === 'overrun') {
            this.log.warn({ step: step.name, timeoutMs: step.timeoutMs }, 'shutdown step overran; moving on');
          }
        } catch (error) {
          this.log.warn({ err: error, step: step.name }, 'shutdown step failed');
        } finally {
          clearTimeout(timer);
        }
      }
    })();
    return this.#running;
  }
}
