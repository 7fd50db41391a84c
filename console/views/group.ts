/** Group: per partition of each source topic and tier, committed and end offsets, lag, stalled time and owner. Refreshed live. */
import { html, type SafeHtml } from '../html.ts';
import type { GroupDetail } from '../console-sources.ts';
import { query, type PageContext } from './layout.ts';

const tierOrder = (tier: string) => (tier === 'source' ? 0 : tier === 'dlt' ? 1e9 : Number(tier));

export function groupFragment(context: PageContext, detail: GroupDetail): SafeHtml {
  const partitions = [...(detail.report?.partitions ?? [])].sort((a, b) => a.sourceTopic.localeCompare(b.sourceTopic) || tierOrder(a.tier) - tierOrder(b.tier) || a.partition - b.partition);
  return html`<div class="cards">
<div class="card"><div class="muted">state</div><div class="big">${detail.report?.groupState ?? '-'}</div></div>
<div class="card"><div class="muted">members</div><div class="big">${detail.members.length}</div></div>
<div class="card"><div class="muted">paused partitions (/metrics)</div><div class="big">${detail.consumers?.pausedPartitions ?? '-'}</div></div>
<div class="card"><div class="muted">parked / held keys</div><div class="big">${detail.parkedKeys ?? '-'} / ${detail.heldKeys ?? '-'}</div></div>
</div>
${detail.lagError ? html`<div class="panel error">lag unknown: ${detail.lagError}</div>` : ''}
<table id="partitions">
<tr><th>topic</th><th>tier</th><th class="num">partition</th><th class="num">committed</th><th class="num">end</th><th class="num">lag</th><th>stalled / stuck</th><th>owner</th></tr>
${partitions.map((p) => {
  const owner = detail.owners.get(`${p.topic}:${p.partition}`);
  return html`<tr>
<td>${p.tier === 'dlt' ? html`<a href="${context.base}/dlt${query({ group: detail.group, topic: p.sourceTopic })}">${p.topic}</a>` : p.topic}</td>
<td>${p.tier}</td><td class="num">${p.partition}</td>
<td class="num">${p.tier === 'dlt' ? '-' : (p.committedOffset ?? 'none')}</td><td class="num">${p.logEndOffset}</td>
<td class="num ${p.lag > 0 && p.tier !== 'dlt' ? 'warn' : ''}">${p.lag}</td>
<td>${p.stuck ? html`<span class="bad">stuck ${Math.round(p.stalledForMs / 1_000)} s</span>` : p.stalledForMs > 0 ? `${Math.round(p.stalledForMs / 1_000)} s` : '-'}</td>
<td class="mono">${owner ? `${owner.clientId} ${owner.clientHost}` : p.tier === 'dlt' ? '' : html`<span class="muted">unassigned</span>`}</td>
</tr>`;
})}
</table>
<h2>Members</h2>
<table id="members"><tr><th>client id</th><th>host</th><th>member id</th></tr>
${detail.members.map((member) => html`<tr><td>${member.clientId}</td><td>${member.clientHost}</td><td class="mono">${member.memberId}</td></tr>`)}
</table>
<p class="muted">Paused partitions are counted by the consumers and read from their /metrics (console --metrics); the admin API does not show which partitions a member paused. Lag is measured while paused too.</p>`;
}

export function groupBody(context: PageContext, detail: GroupDetail): SafeHtml {
  return html`<p class="stamp"><span id="live-stamp">updated ${new Date().toLocaleTimeString('en-GB')}</span> · refreshed every ${context.refreshMs / 1_000} s</p>
<section id="live" data-live="${context.base}/groups/${encodeURIComponent(detail.group)}/live" data-refresh="${context.refreshMs}">${groupFragment(context, detail)}</section>`;
}
