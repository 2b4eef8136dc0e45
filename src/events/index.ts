export * from './agent-events.ts';
export * from './decode.ts';
export * from './domain-event.ts';
export * from './envelope.ts';
export * from './graph-events.ts';
export * from './subjects.ts';
export * from './task-events.ts';
export * from './upcasters.ts';
