/**
 * Observability: Prometheus metrics from the consumer's events, a lag monitor over the admin API, and the
 * opt-in `/metrics`, `/healthz`, `/readyz` endpoints. Alert rules in `alerts/`, a Grafana dashboard in
 * `dashboards/`; see docs/observability.md.
 */
export * from './metrics.ts';
export * from './instrument-consumer.ts';
export * from './lag-monitor.ts';
export * from './lag-monitor-options.ts';
export * from './http.ts';
export * from './topic-tier.ts';
export * from './instrument-scheduler.ts';
