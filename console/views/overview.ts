/** Overview: every group with its members, lag per source topic and tier, DLT depth and oldest age, parked keys. Refreshed live. */
import { html, type SafeHtml } from '../html.ts';
import type { GroupSummary } from '../console-sources.ts';
import { age, query, type PageContext } from './layout.ts';

const tierOrder = (tier: string) => (tier === 'source' ? 0 : tier === 'dlt' ? 1e9 : Number(tier));

/** Lag per source topic and tier, the DLT's records and its oldest record's age, from a lag report. */
export function lagByTopic(summary: GroupSummary): { topic: string; tiers: { tier: string; lag: number }[]; dltRecords: number | undefined; dltOldestAgeSeconds: number | undefined }[] {
  const report = summary.report;
  return summary.topics.map((topic) => {
    const totals = new Map<string, number>();
    for (const p of report?.partitions ?? []) {
      if (p.sourceTopic !== topic || p.tier === 'dlt') continue;
      totals.set(p.tier, (totals.get(p.tier) ?? 0) + p.lag);
    }
    const dead = report?.deadLetters.find((entry) => entry.sourceTopic === topic);
    return {
      topic,
      tiers: [...totals].sort((a, b) => tierOrder(a[0]) - tierOrder(b[0])).map(([tier, lag]) => ({ tier, lag })),
      dltRecords: dead?.records,
      dltOldestAgeSeconds: dead?.oldestTimestampMs === undefined || !report ? undefined : Math.max(0, (report.takenAtMs - dead.oldestTimestampMs) / 1_000),
    };
  });
}

export function overviewFragment(context: PageContext, groups: GroupSummary[]): SafeHtml {
  const { base } = context;
  const dltTotal = groups.reduce((sum, group) => sum + (group.report?.deadLetters.reduce((s, d) => s + d.records, 0) ?? 0), 0);
  const lagTotal = groups.reduce((sum, group) => sum + (group.report?.partitions.filter((p) => p.tier !== 'dlt').reduce((s, p) => s + p.lag, 0) ?? 0), 0);
  const parkedTotal = groups.reduce((sum, group) => sum + (group.parkedKeys ?? 0), 0);
  const stuck = groups.reduce((sum, group) => sum + (group.report?.partitions.filter((p) => p.stuck).length ?? 0), 0);
  return html`<div class="cards">
<div class="card"><div class="muted">groups</div><div class="big" data-metric="groups">${groups.length}</div></div>
<div class="card"><div class="muted">lag (records)</div><div class="big" data-metric="lag">${lagTotal}</div></div>
<div class="card"><div class="muted">stuck partitions</div><div class="big ${stuck > 0 ? 'bad' : ''}" data-metric="stuck">${stuck}</div></div>
<div class="card"><div class="muted">dead letters</div><div class="big ${dltTotal > 0 ? 'warn' : ''}" data-metric="dead-letters">${dltTotal}</div></div>
<div class="card"><div class="muted">parked keys</div><div class="big" data-metric="parked">${parkedTotal}</div></div>
</div>
<table id="groups">
<tr><th>group</th><th>state</th><th class="num">members</th><th>topic</th><th>lag by tier</th><th class="num">DLT records</th><th>oldest dead letter</th><th class="num">parked / held</th><th>consumers (/metrics)</th></tr>
${groups.map((group) => {
  const topics = lagByTopic(group);
  const rows = topics.length > 0 ? topics : [undefined];
  return rows.map((entry, index) => html`<tr data-group="${group.group}">
${index === 0 ? html`<td rowspan="${rows.length}"><a href="${base}/groups/${encodeURIComponent(group.group)}">${group.group}</a></td>
<td rowspan="${rows.length}">${group.report?.groupState ?? '-'}${group.lagError ? html`<div class="bad">lag unknown: ${group.lagError}</div>` : ''}</td>
<td rowspan="${rows.length}" class="num">${group.report?.members ?? '-'}</td>` : ''}
<td>${entry?.topic ?? html`<span class="muted">no topic</span>`}</td>
<td class="mono">${entry?.tiers.map((tier) => html`<span class="${tier.lag > 0 ? 'warn' : ''}">${tier.tier === 'source' ? 'source' : `tier ${tier.tier}`} ${tier.lag}</span> `) ?? ''}</td>
<td class="num">${entry ? html`<a href="${base}/dlt${query({ group: group.group, topic: entry.topic })}">${entry.dltRecords ?? '-'}</a>` : '-'}</td>
<td>${entry?.dltOldestAgeSeconds === undefined ? '-' : age(entry.dltOldestAgeSeconds)}</td>
${index === 0 ? html`<td rowspan="${rows.length}" class="num">${group.parkedKeys === undefined ? '-' : html`<a href="${base}/keys${query({ group: group.group })}">${group.parkedKeys} / ${group.heldKeys ?? 0}</a>`}</td>
<td rowspan="${rows.length}">${group.consumers ? `${group.consumers.joined} joined, ${group.consumers.pausedPartitions} paused, ${group.consumers.handlersInFlight} in flight, ${group.consumers.recordsQueued} queued` : html`<span class="muted">-</span>`}</td>` : ''}
</tr>`);
})}
</table>
${groups.length === 0 ? html`<p class="muted">No consumer group found. Start the console with --group to name one.</p>` : ''}`;
}

export function overviewBody(context: PageContext, groups: GroupSummary[]): SafeHtml {
  return html`<p class="stamp"><span id="live-stamp">updated ${new Date().toLocaleTimeString('en-GB')}</span> · refreshed every ${context.refreshMs / 1_000} s</p>
<section id="live" data-live="${context.base}/overview/live" data-refresh="${context.refreshMs}">${overviewFragment(context, groups)}</section>`;
}
