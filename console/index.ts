/**
 * The web console for operators (docs/console.md): lag, dead letters, parked keys, schedules and the outbox in
 * a browser, with the CLI's safety for replays, purges and releases. `startConsole` serves it alone
 * (`orderly console`); `orderlyConsole` is a Fastify plugin a service mounts under a prefix of its own.
 */
export * from './console-server.ts';
export * from './console-options.ts';
export type { AuditRecord, AuditAction } from './console-audit.ts';
export { escapeHtml, html } from './html.ts';
