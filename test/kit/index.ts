export * from './fake-clock.ts';
export * from './free-port.ts';
export * from './http-api.ts';
export * from './http-call.ts';
export * from './nats.ts';
export * from './temp-dir.ts';
export * from './test-store.ts';
export * from './wait-until.ts';
