/**
 * The in-memory READY index: what the claim path picks candidates from, in dispatch order (graph
 * priority, then the sequence at which the task became READY). Fed by the projector after each batch.
 * Candidates are reserved in-process so local claimers do not race each other for the same task;
 * JetStream's expected-sequence check settles races between processes.
 */
export interface ReadyEntry {
  graphId: string;
  taskId: string;
  priority: number;
  readySeq: number;
  /** Not offered before this time (epoch ms): the backoff after a failed attempt. */
  availableAt: number;
  capability: string | null;
}

export interface ReserveFilter {
  /** The worker's capabilities; a task with a capability is offered only to workers listing it. */
  capabilities: ReadonlySet<string>;
  now: number;
}

export interface ReadyIndexOptions {
  /**
   * Pick at random among the first `spread` eligible candidates of the top priority instead of always
   * the first. Every AM process's index holds the same tasks in the same order, so with several
   * servers every claimer would race for the same head task and all but one lose (a wasted append
   * each). A small spread keeps dispatch in READY order to within a few places. Default 1 (strict order).
   */
  spread?: number;
  /** The random source (tests). Default Math.random. */
  random?: () => number;
}

/** How long after a lost claim race the index keeps picking from a wider window. */
const CONTENDED_MS = 10_000;
/** The widest window a contended pick walks. */
const MAX_CONTENDED_WINDOW = 256;

export class ReadyIndex {
  /** priority → (key → entry) in insertion order, which is READY order because the projector applies in sequence. */
  private readonly buckets = new Map<number, ReadyQueue>();
  private priorities: number[] = [];
  private readonly reserved = new Set<string>();
  private waiters: Array<() => void> = [];
  private count = 0;
  private readonly spread: number;
  private readonly random: () => number;
  /** Until when claims pick from a window that grows with this process's claims in flight. */
  private contendedUntil = 0;

  constructor(opts: ReadyIndexOptions = {}) {
    this.spread = Math.max(1, Math.floor(opts.spread ?? 1));
    this.random = opts.random ?? Math.random;
  }

  get size(): number {
    return this.count;
  }

  upsert(entry: ReadyEntry): void {
    const key = keyOf(entry.graphId, entry.taskId);
    this.removeKey(key, false);
    let bucket = this.buckets.get(entry.priority);
    if (!bucket) {
      bucket = new ReadyQueue();
      this.buckets.set(entry.priority, bucket);
      this.priorities = [...this.buckets.keys()].sort((a, b) => b - a);
    }
    bucket.push(key, entry);
    this.count += 1;
    this.wake();
  }

  remove(graphId: string, taskId: string): void {
    this.removeKey(keyOf(graphId, taskId), true);
  }

  has(graphId: string, taskId: string): boolean {
    const key = keyOf(graphId, taskId);
    for (const bucket of this.buckets.values()) if (bucket.has(key)) return true;
    return false;
  }

  clear(): void {
    this.buckets.clear();
    this.priorities = [];
    this.reserved.clear();
    this.count = 0;
  }

  /**
   * A claim of this process lost its race to another process's claim of the same task. For a while,
   * picks come from `spread` × (claims in flight here + 1) candidates instead of `spread`: another server
   * holds its own claims in flight that this index still shows READY, and picking from a window no
   * wider than those makes most picks collide (measured: 0.64 conflicts per claim with 32 workers on two
   * servers). A wider window gives up strict READY order only while servers are racing.
   */
  noteConflict(now: number): void {
    this.contendedUntil = now + CONTENDED_MS;
  }

  /**
   * Takes a candidate that is available, matches the worker and is not reserved — the first one, or
   * one of the first `spread` of the highest priority that has any (more after a conflict: see
   * noteConflict) — and reserves it.
   */
  reserve(filter: ReserveFilter): ReadyEntry | null {
    const window =
      filter.now < this.contendedUntil
        ? Math.min(MAX_CONTENDED_WINDOW, this.spread * (this.reserved.size + 1))
        : this.spread;
    for (const priority of this.priorities) {
      const bucket = this.buckets.get(priority);
      if (!bucket) continue;
      let eligible: QueueNode[] | null = null;
      // Walks the list itself: a generator step per candidate was a visible share of every claim.
      for (let node = bucket.head; node; node = node.next) {
        const { key, entry } = node;
        if (this.reserved.has(key) || entry.availableAt > filter.now) continue;
        if (entry.capability !== null && !filter.capabilities.has(entry.capability)) continue;
        if (window === 1) return this.take(key, entry);
        eligible ??= [];
        eligible.push(node);
        if (eligible.length >= window) break;
      }
      if (eligible !== null) {
        const chosen = eligible[Math.floor(this.random() * eligible.length)] ?? eligible[0]!;
        return this.take(chosen.key, chosen.entry);
      }
    }
    return null;
  }

  private take(key: string, entry: ReadyEntry): ReadyEntry {
    this.reserved.add(key);
    return entry;
  }

  /** Gives a candidate back (its claim failed) so other claimers see it again. */
  unreserve(entry: ReadyEntry): void {
    const key = keyOf(entry.graphId, entry.taskId);
    if (this.reserved.delete(key)) this.wake();
  }

  /** Every entry, reserved or not, by priority bucket. */
  *entries(): IterableIterator<ReadyEntry> {
    for (const bucket of this.buckets.values()) yield* bucket.entries();
  }

  /** The earliest time a backed-off entry becomes available, so a long-poll can wake for it. */
  nextAvailableAt(now: number): number | null {
    let next: number | null = null;
    for (const bucket of this.buckets.values()) {
      for (const entry of bucket.entries()) {
        if (entry.availableAt > now && (next === null || entry.availableAt < next)) next = entry.availableAt;
      }
    }
    return next;
  }

  /** Resolves at the next change that may offer new work. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private removeKey(key: string, releaseReservation: boolean): void {
    for (const [priority, bucket] of this.buckets) {
      if (bucket.delete(key)) {
        this.count -= 1;
        if (bucket.size === 0) {
          this.buckets.delete(priority);
          this.priorities = this.priorities.filter((p) => p !== priority);
        }
        break;
      }
    }
    if (releaseReservation) this.reserved.delete(key);
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}

function keyOf(graphId: string, taskId: string): string {
  return `${graphId}/${taskId}`;
}

/** A node of ReadyQueue's list. */
interface QueueNode {
  key: string;
  entry: ReadyEntry;
  prev: QueueNode | null;
  next: QueueNode | null;
}

/**
 * One priority's entries in READY order. A Map iterated from its start would do, but claims take
 * entries from the front, and V8 skips every deleted slot on each iteration until the table is
 * rebuilt: with thousands of READY tasks that made each claim's scan cost microseconds. A linked list
 * (and a Map of its nodes) deletes anywhere at once and iterates only what is current.
 */
class ReadyQueue {
  private readonly nodes = new Map<string, QueueNode>();
  private first: QueueNode | null = null;
  private last: QueueNode | null = null;

  get size(): number {
    return this.nodes.size;
  }

  /** Adds at the end (a key already here is moved there). */
  push(key: string, entry: ReadyEntry): void {
    this.delete(key);
    const node: QueueNode = { key, entry, prev: this.last, next: null };
    if (this.last) this.last.next = node;
    else this.first = node;
    this.last = node;
    this.nodes.set(key, node);
  }

  has(key: string): boolean {
    return this.nodes.has(key);
  }

  delete(key: string): boolean {
    const node = this.nodes.get(key);
    if (!node) return false;
    this.nodes.delete(key);
    if (node.prev) node.prev.next = node.next;
    else this.first = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.last = node.prev;
    return true;
  }

  *entries(): Generator<ReadyEntry> {
    for (let node = this.first; node; node = node.next) yield node.entry;
  }

  /** The oldest node; follow `next` for the rest in READY order. */
  get head(): QueueNode | null {
    return this.first;
  }
}
