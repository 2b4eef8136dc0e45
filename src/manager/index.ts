export * from './agents-adapter.ts';
export * from './manager.ts';
export * from './manager-agents.ts';
export * from './manager-runtime.ts';
