export * from './pg-connection.ts';
export * from './pg-fold.ts';
export * from './pg-json.ts';
export * from './pg-migrations.ts';
export * from './pg-state-loader.ts';
export * from './pg-writer.ts';
export * from './postgres-projector.ts';
export * from './postgres-read-model.ts';
