/**
 * Dead letters: the filters of `orderly dlt list` (key, reason, error type, time), the records they select with
 * a checkbox each, and the replay and purge actions (dry run first, then a confirmation showing the count). A
 * record's page shows its headers, its payload decoded by its writer schema, its error and fingerprint.
 */
import { deadLetterReasons } from '../../consumers/dead-letter/reason-codes.ts';
import { headerNames } from '../../core/headers.ts';
import type { IHeaders } from '../../core/kafka-client.ts';
import type { DecodedPayload } from '../../operations/dlt-payload-decoder.ts';
import { html, type SafeHtml } from '../html.ts';
import type { DeadLetterListing, ShownDeadLetter } from '../console-sources.ts';
import { errorPanel, query, shorten, time, type PageContext } from './layout.ts';

export interface DltQuery {
  group: string;
  topic: string;
  key: string;
  reason: string;
  errorType: string;
  since: string;
  until: string;
  limit: number;
}

/** The group and topic pairs to choose from. */
export type DltChoices = { group: string; topics: string[] }[];

function filterForm(context: PageContext, choices: DltChoices, current: DltQuery): SafeHtml {
  const pairs = choices.flatMap(({ group, topics }) => topics.map((topic) => ({ group, topic })));
  const selected = `${current.group} ${current.topic}`;
  return html`<form class="filters" method="get" action="${context.base}/dlt" id="dlt-filters">
<label>group / topic<select name="pair" id="pair">
${pairs.length === 0 ? html`<option value="">(none found)</option>` : ''}
${pairs.map(({ group, topic }) => html`<option value="${group} ${topic}" ${`${group} ${topic}` === selected ? 'selected' : ''}>${group} / ${topic}</option>`)}
</select></label>
<label>key<input name="key" value="${current.key}" size="14"></label>
<label>reason<select name="reason"><option value="">any</option>${deadLetterReasons.map((reason) => html`<option ${reason === current.reason ? 'selected' : ''}>${reason}</option>`)}</select></label>
<label>error type<input name="errorType" value="${current.errorType}" size="14" placeholder="NON_RETRYABLE"></label>
<label>since<input name="since" value="${current.since}" size="16" placeholder="2h, ISO, epoch ms"></label>
<label>until<input name="until" value="${current.until}" size="16" placeholder="30m, ISO, epoch ms"></label>
<label>limit<input name="limit" value="${current.limit}" size="5"></label>
<button type="submit" class="primary">Filter</button>
</form>`;
}

function payloadText(payload: DecodedPayload | undefined, max: number): string {
  if (!payload) return '(hidden)';
  if (payload.format === 'empty') return '(empty)';
  const text = typeof payload.value === 'string' && payload.format !== 'json' ? payload.value : JSON.stringify(payload.value);
  return shorten(`${payload.format}${payload.format === 'avro' ? ` #${payload.schemaId}` : ''} ${text}`, max);
}

export function deadLettersBody(context: PageContext, choices: DltChoices, current: DltQuery, listing: DeadLetterListing | undefined, problem: string | undefined, rate: number, maxReplays: number): SafeHtml {
  const { base } = context;
  const filter = { key: current.key || undefined, reason: current.reason || undefined, errorType: current.errorType || undefined, since: current.since || undefined, until: current.until || undefined };
  const detail = (item: ShownDeadLetter) => `${base}/dlt/record${query({ group: current.group, topic: current.topic, partition: item.record.partition, offset: item.record.offset })}`;
  return html`${filterForm(context, choices, current)}
${problem ? errorPanel(problem) : ''}
${listing
  ? html`<p class="muted" id="dlt-count">${listing.records.length} record(s) shown of ${listing.total} in ${listing.dltTopic}</p>
<div class="actions" id="dlt-actions" data-base="${base}" data-context="${JSON.stringify({ group: current.group, topic: current.topic, filter: filterValues(filter), rate })}">
<button id="replay-dry-run" class="primary">Replay selected (dry run)</button>
<label><input type="checkbox" id="include-replayed"> include records replayed before</label>
<button id="purge-dry-run">Purge replayed records (dry run)</button>
<span class="muted">rate limit ${rate}/s · a record replayed ${maxReplays} times is refused</span>
</div>
<div id="action-result"></div>
<table id="dlt-records">
<tr><th><input type="checkbox" id="select-all" title="select all shown"></th><th>record</th><th>dead-lettered</th><th>key</th><th>event</th><th>reason</th><th>error</th><th class="num">attempts</th><th class="num">replays</th><th>payload</th></tr>
${listing.records.map((item) => html`<tr data-event="${item.record.eventId ?? ''}">
<td><input type="checkbox" name="record" value="p${item.record.partition}@${item.record.offset}"></td>
<td class="mono"><a href="${detail(item)}">p${item.record.partition}@${item.record.offset}</a></td>
<td class="mono">${time(item.record.timestamp)}</td>
<td class="mono">${item.record.key ?? '(none)'}</td>
<td class="mono">${item.record.eventId ?? '(no id)'}${item.record.eventType ? html`<div class="muted">${item.record.eventType}</div>` : ''}</td>
<td>${item.record.reason ?? '-'}</td>
<td><strong>${item.record.errorType ?? '?'}</strong> ${shorten(item.record.errorMessage ?? '', 160)}</td>
<td class="num">${item.record.attempts ?? '?'}</td>
<td class="num">${item.replays ?? '-'}</td>
<td class="mono">${payloadText(item.payload, 120)}</td>
</tr>`)}
</table>`
  : ''}`;
}

/** The filter as the API takes it (times as epoch ms), from the page's fields. */
function filterValues(filter: Record<string, string | undefined>): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(filter)) if (value !== undefined) values[name] = value;
  return values;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function headerValues(headers: IHeaders): { name: string; value: string }[] {
  const shown: { name: string; value: string }[] = [];
  for (const [name, raw] of Object.entries(headers)) {
    for (const value of Array.isArray(raw) ? raw : [raw]) {
      if (value === undefined) continue;
      if (typeof value === 'string') {
        shown.push({ name, value });
        continue;
      }
      try {
        shown.push({ name, value: strictUtf8.decode(value) });
      } catch {
        shown.push({ name, value: `(bytes, base64) ${Buffer.from(value).toString('base64')}` });
      }
    }
  }
  return shown;
}

export function deadLetterBody(context: PageContext, current: { group: string; topic: string }, item: ShownDeadLetter): SafeHtml {
  const { record, payload } = item;
  const headers = headerValues(record.headers);
  const fingerprint = headers.find((header) => header.name === headerNames.errorFingerprint)?.value;
  const stack = headers.find((header) => header.name === headerNames.errorStack)?.value;
  let payloadBlock: SafeHtml;
  if (!payload) payloadBlock = html`<p class="muted" id="payload">Payloads are hidden (the console runs with --no-payloads).</p>`;
  else if (payload.format === 'empty') payloadBlock = html`<p id="payload">(empty)</p>`;
  else {
    const text = typeof payload.value === 'string' && payload.format !== 'json' ? payload.value : JSON.stringify(payload.value, null, 2);
    payloadBlock = html`<p class="muted">${payload.format}${payload.format === 'avro' ? ` · writer schema id ${payload.schemaId}` : ''}${'avroError' in payload && payload.avroError ? ` · not decoded as Avro: ${payload.avroError}` : ''}</p><pre id="payload">${text}</pre>`;
  }
  return html`<p><a href="${context.base}/dlt${query({ pair: `${current.group} ${current.topic}` })}">← ${record.topic}</a></p>
<table id="record-summary">
<tr><th>record</th><td class="mono">${record.topic} p${record.partition}@${record.offset}</td></tr>
<tr><th>dead-lettered</th><td>${time(record.timestamp)}</td></tr>
<tr><th>key</th><td class="mono">${record.key ?? '(none)'}</td></tr>
<tr><th>event</th><td class="mono">${record.eventId ?? '(no id)'} ${record.eventType ?? ''}</td></tr>
<tr><th>reason</th><td>${record.reason ?? '-'}</td></tr>
<tr><th>error</th><td><strong>${record.errorType ?? '?'}</strong> ${record.errorMessage ?? ''}</td></tr>
<tr><th>fingerprint</th><td class="mono" id="fingerprint">${fingerprint ?? '-'}</td></tr>
<tr><th>attempts</th><td>${record.attempts ?? '?'}</td></tr>
<tr><th>replays</th><td>carried ${record.replayCount}; counted from this record ${item.replays ?? '-'}</td></tr>
<tr><th>original</th><td class="mono">${record.originalTopic ?? '?'} p${record.originalPartition ?? '?'}@${record.originalOffset ?? '?'}</td></tr>
</table>
<h2>Payload</h2>
${payloadBlock}
<h2>Headers</h2>
<table id="headers"><tr><th>name</th><th>value</th></tr>
${headers.map((header) => html`<tr><td class="mono">${header.name}</td><td class="mono">${header.name === headerNames.errorStack ? shorten(header.value, 200) : header.value}</td></tr>`)}
</table>
${stack ? html`<h2>Error stack</h2><pre>${stack}</pre>` : ''}`;
}
