/** The audit trail of this console: every replay, purge and release, who asked, when, what was confirmed and what happened. */
import type { AuditRecord } from '../console-audit.ts';
import { html, type SafeHtml } from '../html.ts';

export function auditBody(records: readonly AuditRecord[]): SafeHtml {
  if (records.length === 0) return html`<p class="muted" id="no-audit">No change was made through this console since it started. Each change is also logged as a JSON line (audit: true).</p>`;
  return html`<table id="audit"><tr><th>started</th><th>finished</th><th>who</th><th>action</th><th>group / topic</th><th class="num">confirmed</th><th>records or key</th><th>outcome</th><th>result</th></tr>
${records.map((record) => html`<tr><td class="mono">${record.startedAt}</td><td class="mono">${record.finishedAt ?? '-'}</td><td>${record.operator} <span class="muted">${record.address}</span></td><td>${record.action}</td><td>${record.group} / ${record.topic}</td><td class="num">${record.confirmed}</td><td class="mono">${record.targets.join(', ')}</td><td class="${record.outcome === 'failed' ? 'bad' : record.outcome === 'done' ? 'ok' : ''}">${record.outcome}</td><td>${record.result ?? ''}</td></tr>`)}
</table>`;
}
