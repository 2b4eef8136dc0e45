/** Claims whose numbering is remembered at most; the oldest is forgotten first. */
const MAX_CLAIMS = 10_000;

/**
 * The next progress index a node hands out per claim when the worker does not number its steps: the
 * read model counts what it has applied, this counts what was appended since (steps of one claim can
 * arrive faster than they are projected).
 */
export class ProgressNumbering {
  readonly #next = new Map<string, number>();

  /** The index for the next step of `claimKey`; `applied` counts the steps the read model holds. */
  take(claimKey: string, applied: () => number): number {
    const index = this.#next.get(claimKey) ?? applied();
    this.#next.set(claimKey, index + 1);
    if (this.#next.size > MAX_CLAIMS) {
      const oldest = this.#next.keys().next().value;
      if (oldest !== undefined) this.#next.delete(oldest);
    }
    return index;
  }
}
