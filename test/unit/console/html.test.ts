/**
 * Everything a page shows from a record is text: the `html` template escapes every value it is not told is the
 * console's own markup, in elements and in attributes, and the dead-letter views built on it show hostile keys,
 * header names and values, error messages and payloads without a tag or attribute of theirs surviving.
 */
import { describe, expect, it } from 'vitest';
import { escapeHtml, html, trustedHtml } from '../../../console/html.ts';
import { withoutSecrets } from '../../../console/console-routes.ts';
import type { ShownDeadLetter } from '../../../console/console-sources.ts';
import { deadLetterBody, deadLettersBody } from '../../../console/views/dead-letters.ts';
import { parkedKeysBody } from '../../../console/views/parked-keys.ts';
import type { PageContext } from '../../../console/views/layout.ts';

const attack = `<script>alert(1)</script>"'\`><img src=x onerror=alert(2)>&amp;`;

const context: PageContext = { base: '/ops', operator: attack, csrfToken: 'csrf', showPayloads: true, refreshMs: 5_000 };

function hostileRecord(): ShownDeadLetter {
  return {
    record: {
      topic: 'orders.billing.dlt',
      partition: 0,
      offset: '7',
      key: attack,
      keyBytes: Buffer.from(attack),
      value: Buffer.from(JSON.stringify({ attack })),
      headers: { [attack]: attack, 'orderly-error-fingerprint': attack, 'orderly-error-stack': attack, binary: Buffer.from([0xff, 0xfe]) },
      eventId: attack,
      eventType: attack,
      reason: attack,
      errorType: attack,
      errorMessage: attack,
      attempts: 1,
      replayCount: 0,
      timestamp: Date.now(),
      originalTopic: attack,
      originalPartition: 0,
      originalOffset: attack,
    },
    payload: { format: 'json', value: { attack } },
    replays: 0,
  };
}

/** No tag or attribute the attack brought may survive: only `&lt;`-escaped forms. */
function expectInert(markup: string): void {
  expect(markup).not.toContain('<script>');
  expect(markup).not.toContain('<img');
  // Every real tag is the console's: outside its quoted attribute values, none carries the attack's attributes.
  for (const tag of markup.match(/<[a-z][^>]*>/gi) ?? []) expect(tag.replace(/"[^"]*"/g, '""')).not.toMatch(/onerror|alert|'/);
  expect(markup).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
}

describe('html', () => {
  it('escapes the characters that end a text or an attribute', () => {
    expect(escapeHtml(`<a href="x" title='y'>&\``)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&#96;');
  });

  it('escapes values, keeps its own fragments, joins lists and drops null, undefined and false', () => {
    const inner = html`<b>${attack}</b>`;
    const built = html`<p title="${attack}">${inner}${[attack, trustedHtml('<hr>')]}${null}${undefined}${false}${0}</p>`;
    expect(built.text).toBe(`<p title="${escapeHtml(attack)}"><b>${escapeHtml(attack)}</b>${escapeHtml(attack)}<hr>0</p>`);
  });

  it('renders a hostile dead letter inert in the list, the record page and the parked keys page', () => {
    const list = deadLettersBody(context, [{ group: 'billing', topics: ['orders'] }], { group: 'billing', topic: 'orders', key: attack, reason: '', errorType: attack, since: '', until: '', limit: 100 }, { dltTopic: 'orders.billing.dlt', total: 1, records: [hostileRecord()], watermarks: [] }, attack, 100, 3);
    expectInert(list.text);
    const record = deadLetterBody(context, { group: 'billing', topic: 'orders' }, hostileRecord());
    expectInert(record.text);
    expect(record.text).toContain('(bytes, base64) //4=');
    const parked = parkedKeysBody(context, ['billing'], 'billing', [{ topic: 'orders', partition: 0, key: attack, state: { queue: [attack], headTier: 1, held: true, parkedAt: 0 }, headReason: attack }], attack);
    expectInert(parked.text);
  });

  it('hides the payload when payloads are off', () => {
    const shown = { ...hostileRecord(), payload: undefined };
    const record = deadLetterBody({ ...context, showPayloads: false }, { group: 'billing', topic: 'orders' }, shown);
    expect(record.text).toContain('Payloads are hidden');
    expect(record.text).not.toContain('{&quot;attack&quot;');
  });

  it('masks credentials in URLs of an error message', () => {
    expect(withoutSecrets('Redis at redis://:s3cret@10.0.0.1:6379 refused; postgres://app:pw@db/app too')).toBe('Redis at redis://***@10.0.0.1:6379 refused; postgres://***@db/app too');
  });
});
