/** Parked keys of a group: the queue per key, its head's reason, and release (dry run, then a confirmation with the count). */
import { html, type SafeHtml } from '../html.ts';
import type { ParkedKeyView } from '../console-sources.ts';
import { errorPanel, shorten, time, type PageContext } from './layout.ts';

export function parkedKeysBody(context: PageContext, groups: string[], group: string, keys: ParkedKeyView[] | undefined, problem: string | undefined): SafeHtml {
  const { base } = context;
  return html`<form class="filters" method="get" action="${base}/keys">
<label>group<select name="group">${groups.map((name) => html`<option ${name === group ? 'selected' : ''}>${name}</option>`)}</select></label>
<button type="submit" class="primary">Show</button>
</form>
${problem ? errorPanel(problem) : ''}
<div id="action-result"></div>
${keys
  ? html`<p class="muted" id="keys-count">${keys.length} parked key(s), ${keys.filter((entry) => entry.state.held).length} held</p>
<table id="parked-keys">
<tr><th>key</th><th>topic</th><th class="num">partition</th><th class="num">queued</th><th>queue (head first)</th><th class="num">head tier</th><th>held</th><th>head reason</th><th>parked since</th><th></th></tr>
${keys.map((entry) => html`<tr data-key="${entry.key}">
<td class="mono">${entry.key}</td><td>${entry.topic}</td><td class="num">${entry.partition}</td><td class="num">${entry.state.queue.length}</td>
<td class="mono">${shorten(entry.state.queue.slice(0, 5).join(', '), 200)}${entry.state.queue.length > 5 ? ` … (+${entry.state.queue.length - 5})` : ''}</td>
<td class="num">${entry.state.headTier}</td>
<td>${entry.state.held ? html`<span class="bad">held</span>` : 'no'}${(entry.state.replaying?.length ?? 0) > 0 ? html`<div class="warn">lane replay pending</div>` : ''}</td>
<td>${shorten(entry.headReason, 200)}</td>
<td class="mono">${time(entry.state.parkedAt)}</td>
<td>${entry.state.held ? html`<button data-release data-base="${base}" data-group="${group}" data-topic="${entry.topic}" data-key="${entry.key}">Release…</button>` : ''}</td>
</tr>`)}
</table>`
  : ''}`;
}
