export * from './agent-handlers.ts';
export * from './client-config-loader.ts';
export * from './http-transport.ts';
export * from './nats-transport.ts';
export * from './retry.ts';
export * from './worker.ts';
export * from './worker-transport.ts';
