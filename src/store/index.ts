export * from './connect.ts';
export * from './ensure-stream.ts';
export * from './event-store.ts';
export * from './nats-server-process.ts';
export * from './store-errors.ts';
export * from './stream-settings.ts';
