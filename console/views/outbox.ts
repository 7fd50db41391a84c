/** The outbox (`orderly outbox status`), when a database with an outbox table is configured. */
import type { OutboxStatus } from '../../outbox/outbox-status.ts';
import { html, type SafeHtml } from '../html.ts';
import { age, errorPanel } from './layout.ts';

export function outboxBody(table: string, configured: boolean, status: OutboxStatus | undefined, problem: string | undefined): SafeHtml {
  if (problem) return errorPanel(problem);
  if (!configured) return html`<p class="muted" id="no-outbox">No outbox database configured (start the console with --database, or set DATABASE_URL).</p>`;
  if (!status) return html`<p class="muted" id="no-outbox">The database has no outbox table ${table}.</p>`;
  return html`<div class="cards" id="outbox">
<div class="card"><div class="muted">pending rows</div><div class="big">${status.pending}</div></div>
<div class="card"><div class="muted">oldest pending</div><div class="big">${age(status.oldestPendingAgeSeconds)}</div></div>
<div class="card"><div class="muted">failed rows</div><div class="big ${status.failed > 0 ? 'bad' : ''}">${status.failed}</div></div>
<div class="card"><div class="muted">sent rows kept</div><div class="big">${status.sentKept}</div></div>
</div>
${status.failures.length > 0
  ? html`<table id="outbox-failures"><tr><th>topic</th><th>reason</th><th class="num">rows</th></tr>${status.failures.map((failure) => html`<tr><td>${failure.topic}</td><td>${failure.reason}</td><td class="num">${failure.rows}</td></tr>`)}</table>
<p class="muted">Failed rows block the later rows of their keys: fix the cause, then <code>orderly outbox requeue</code>.</p>`
  : ''}`;
}
