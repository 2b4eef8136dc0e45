import { AGENT_EVENT_TYPES, type DomainEvent, type SubjectRef, TASK_EVENT_TYPES } from '../events/index.ts';

/** An event must sit on its own aggregate's subject; anything else is recorded, never applied. */
export function subjectMismatch(ref: SubjectRef, event: DomainEvent): string | null {
  switch (ref.kind) {
    case 'agent':
      return AGENT_EVENT_TYPES.has(event.type) ? null : 'wrong_subject';
    case 'progress':
      return event.type === 'TaskProgressed' && event.graphId === ref.graphId && event.taskId === ref.taskId
        ? null
        : 'wrong_subject';
    case 'task':
      return TASK_EVENT_TYPES.has(event.type) &&
        event.type !== 'TaskProgressed' &&
        event.graphId === ref.graphId &&
        event.taskId === ref.taskId
        ? null
        : 'wrong_subject';
    case 'graph':
      return !TASK_EVENT_TYPES.has(event.type) &&
        !AGENT_EVENT_TYPES.has(event.type) &&
        event.graphId === ref.graphId
        ? null
        : 'wrong_subject';
    default: {
      const unreachable: never = ref;
      return unreachable;
    }
  }
}
