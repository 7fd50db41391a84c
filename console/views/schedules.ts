/** Schedules on the schedule topic (`orderly cron list`), when there is one. */
import type { ScheduleSummary } from '../../scheduling/schedule-status.ts';
import { html, type SafeHtml } from '../html.ts';
import { errorPanel } from './layout.ts';

export function schedulesBody(scheduleTopic: string, schedules: ScheduleSummary[] | undefined, problem: string | undefined): SafeHtml {
  if (problem) return errorPanel(problem);
  if (!schedules) return html`<p class="muted" id="no-schedules">No schedule topic ${scheduleTopic} on this cluster (it is made by <code>orderly cron init</code>).</p>`;
  return html`<p class="muted">${schedules.length} schedule(s) on ${scheduleTopic}</p>
<table id="schedules"><tr><th>schedule</th><th>expression</th><th>time zone</th><th>tick topic</th><th>last slot</th><th>next slot</th><th>leader</th><th class="num">members</th></tr>
${schedules.map((entry) => html`<tr><td>${entry.schedule}</td><td class="mono">${entry.expression}</td><td>${entry.timezone}</td><td>${entry.topic}</td><td class="mono">${entry.lastSlot ?? '-'}</td><td class="mono">${entry.nextSlot ?? '-'}</td><td>${entry.leader ?? '-'}</td><td class="num ${entry.members === 0 ? 'bad' : ''}">${entry.members}</td></tr>`)}
</table>`;
}
