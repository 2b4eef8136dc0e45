/**
 * Subject builders. The prefix (default `am.evt`) is configurable so tests can share one server.
 *   <prefix>.<graphId>.graph                  graph aggregate
 *   <prefix>.<graphId>.task.<taskId>          task aggregate
 *   <prefix>.<graphId>.task.<taskId>.progress ReAct steps (never bumps the task's sequence)
 *   <prefix>._sys.agent.<agentId>             agent registry
 */
export const DEFAULT_SUBJECT_PREFIX = 'am.evt';
export const DEFAULT_STREAM_NAME = 'AM_EVENTS';

export type SubjectRef =
  | { kind: 'graph'; graphId: string }
  | { kind: 'task'; graphId: string; taskId: string }
  | { kind: 'progress'; graphId: string; taskId: string }
  | { kind: 'agent'; agentId: string };

export class Subjects {
  /** `<prefix>.`, built once: parse() runs for every event a projector reads. */
  private readonly head: string;

  constructor(readonly prefix: string = DEFAULT_SUBJECT_PREFIX) {
    this.head = `${prefix}.`;
  }

  all(): string {
    return `${this.prefix}.>`;
  }
  graph(graphId: string): string {
    return `${this.prefix}.${graphId}.graph`;
  }
  task(graphId: string, taskId: string): string {
    return `${this.prefix}.${graphId}.task.${taskId}`;
  }
  progress(graphId: string, taskId: string): string {
    return `${this.prefix}.${graphId}.task.${taskId}.progress`;
  }
  agent(agentId: string): string {
    return `${this.prefix}._sys.agent.${agentId}`;
  }
  /** Every subject of one graph: its audit trail. */
  graphTrail(graphId: string): string {
    return `${this.prefix}.${graphId}.>`;
  }
  of(ref: SubjectRef): string {
    switch (ref.kind) {
      case 'graph':
        return this.graph(ref.graphId);
      case 'task':
        return this.task(ref.graphId, ref.taskId);
      case 'progress':
        return this.progress(ref.graphId, ref.taskId);
      case 'agent':
        return this.agent(ref.agentId);
      default: {
        const unreachable: never = ref;
        return unreachable;
      }
    }
  }

  /** Parses a stored subject back into its aggregate, or null when it is not one of ours. */
  parse(subject: string): SubjectRef | null {
    if (!subject.startsWith(this.head)) return null;
    const parts = subject.slice(this.head.length).split('.');
    const [first, second, third, fourth] = parts;
    if (first === '_sys' && second === 'agent' && third !== undefined && parts.length === 3) {
      return { kind: 'agent', agentId: third };
    }
    if (first === undefined || second === undefined) return null;
    if (second === 'graph' && parts.length === 2) return { kind: 'graph', graphId: first };
    if (second === 'task' && third !== undefined) {
      if (parts.length === 3) return { kind: 'task', graphId: first, taskId: third };
      if (parts.length === 4 && fourth === 'progress')
        return { kind: 'progress', graphId: first, taskId: third };
    }
    return null;
  }
}
