import type { Logger } from 'pino';
import type { ReadyEntry } from '../projections/index.ts';
import type { Clock, ClockTimer } from './clock.ts';

export interface CapabilityWatchOptions {
  clock: Clock;
  log: Pick<Logger, 'warn'>;
  /** The READY tasks, as the claim path sees them. */
  ready: () => Iterable<ReadyEntry>;
  /** How long a capability must go unoffered while a READY task needs it before a warning. Default 30 s. */
  afterMs?: number;
  /** How often the same capability is warned about again while it stays unserved. Default 5 min. */
  repeatMs?: number;
  /** How often READY tasks are looked at. Default 10 s. */
  intervalMs?: number;
}

/**
 * Warns when READY tasks need a capability no worker has offered in a claim for a while: such tasks wait
 * forever without an error anywhere (a typo in a plan's `capability`, or a worker whose
 * mcp_client_config.json lacks it in `capabilities`). Claims report what they offer; a timer looks at the READY tasks.
 */
export class CapabilityWatch {
  readonly #clock: Clock;
  readonly #log: Pick<Logger, 'warn'>;
  readonly #ready: () => Iterable<ReadyEntry>;
  readonly #afterMs: number;
  readonly #repeatMs: number;
  /** When each capability was last offered by a claim. */
  readonly #offeredAt = new Map<string, number>();
  readonly #warnedAt = new Map<string, number>();
  readonly #startedAt: number;
  readonly #timer: ClockTimer;

  constructor(opts: CapabilityWatchOptions) {
    this.#clock = opts.clock;
    this.#log = opts.log;
    this.#ready = opts.ready;
    this.#afterMs = opts.afterMs ?? 30_000;
    this.#repeatMs = opts.repeatMs ?? 300_000;
    this.#startedAt = opts.clock.now();
    this.#timer = opts.clock.setInterval(() => this.check(), opts.intervalMs ?? 10_000);
  }

  /** A claim arrived offering these capabilities. */
  offered(capabilities: readonly string[] | undefined): void {
    if (capabilities === undefined || capabilities.length === 0) return;
    const now = this.#clock.now();
    for (const capability of capabilities) this.#offeredAt.set(capability, now);
  }

  /** Looks at the READY tasks now (the timer calls it; tests too). */
  check(): void {
    const now = this.#clock.now();
    const needed = new Map<string, { tasks: number; example: ReadyEntry }>();
    for (const entry of this.#ready()) {
      if (entry.capability === null) continue;
      const offeredAt = this.#offeredAt.get(entry.capability) ?? this.#startedAt;
      if (now - offeredAt < this.#afterMs) continue;
      const seen = needed.get(entry.capability);
      if (seen) seen.tasks += 1;
      else needed.set(entry.capability, { tasks: 1, example: entry });
    }
    for (const [capability, { tasks, example }] of needed) {
      const warnedAt = this.#warnedAt.get(capability);
      if (warnedAt !== undefined && now - warnedAt < this.#repeatMs) continue;
      this.#warnedAt.set(capability, now);
      const offered = [...this.#offeredAt.keys()].sort();
      this.#log.warn(
        { capability, tasks, graphId: example.graphId, taskId: example.taskId, offered },
        `${tasks} READY task(s) need capability "${capability}", which no worker has offered for ` +
          `${Math.round(this.#afterMs / 1000)} s (offered: ${offered.length ? offered.join(', ') : 'none'}); ` +
          `start a worker whose mcp_client_config.json lists "capabilities": ["${capability}"], or fix the task's capability`,
      );
    }
  }

  stop(): void {
    this.#timer.cancel();
  }
}
