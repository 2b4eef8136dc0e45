// The metrics live in ./metrics/ (one file per concern); this path is what the app imports.
export { HttpMetrics } from './metrics/http-metrics.ts';
