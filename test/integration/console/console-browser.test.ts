/**
 * The console in a real headless browser (Debian's Chromium driven by playwright-core; no browser is
 * downloaded): without the token the browser gets 401 and the login page; after the login every page opens,
 * the Overview refreshes itself, the DLT filters, two records are replayed with a dry run then a confirmation
 * showing the count (the source topic gains them), a parked key is released (Redis shows it), hostile records
 * run no script, and a change without the CSRF token is 403. Skips, saying why, where no Chromium is installed.
 * With ORDERLY_CONSOLE_SCREENSHOTS=<dir> it also saves a PNG of each page there (docs/console/ is made so).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisParkingStore } from '../../../consumers/retries/redis-parking-store.ts';
import { startConsoleFixture, type ConsoleFixture } from './console-fixture.ts';

const chromiumPath = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => path && existsSync(path));
const screenshots = process.env.ORDERLY_CONSOLE_SCREENSHOTS;
const title = chromiumPath ? 'orderly console in Chromium' : 'orderly console in Chromium (SKIPPED: no Chromium at /usr/bin/chromium; install it with `apt-get install chromium`, as infra/install.sh does, or set CHROMIUM_PATH)';

// Said once at collection too: a reporter may show a skipped file without its suite's name.
if (!chromiumPath) console.warn(`console browser tests SKIPPED: no Chromium at /usr/bin/chromium (install the Debian package chromium, as infra/install.sh does, or set CHROMIUM_PATH)`);

let fixture: ConsoleFixture;
let browser: Browser;
let page: Page;

async function shoot(name: string): Promise<void> {
  if (!screenshots) return;
  mkdirSync(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}

/** Waits (the page's default timeout) until `locator` matches an element holding `text`; fails otherwise. */
async function expectText(locator: Locator, text: string | RegExp): Promise<void> {
  await locator.filter({ hasText: text }).first().waitFor();
}

async function expectHeading(text: string): Promise<void> {
  await expectText(page.locator('h1'), new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
}

async function highs(topic: string): Promise<string[]> {
  return (await fixture.admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition).map((entry) => entry.high);
}

describe.skipIf(!chromiumPath)(title, () => {
  beforeAll(async () => {
    [fixture, browser] = await Promise.all([
      startConsoleFixture(),
      chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] }),
    ]);
    page = await browser.newPage({ viewport: { width: 1360, height: 800 } });
    page.setDefaultTimeout(30_000);
  });

  afterAll(async () => {
    await browser?.close();
    await fixture?.close();
  });

  it('answers 401 without the token, then logs in and opens the live Overview and the Group', async () => {
    const first = await page.goto(`${fixture.console.url}/`);
    expect(first?.status()).toBe(401);
    await shoot('login');
    await page.fill('#token', fixture.console.token);
    await page.fill('#operator', 'ada');
    await Promise.all([page.waitForURL(`${fixture.console.url}/`), page.click('button[type=submit]')]);
    await expectHeading('Overview');
    expect(await page.locator(`#groups tr[data-group="${fixture.group}"]`).count()).toBe(1);
    expect(await page.locator('[data-metric="dead-letters"]').textContent()).toBe('6');
    expect(await page.locator('[data-metric="parked"]').textContent()).toBe('1');
    // Live: the section is replaced by a fresh fragment every second (refreshMs 1000).
    await page.evaluate("document.querySelector('#live table').setAttribute('data-old', '1')");
    await page.locator('#live table[data-old]').waitFor({ state: 'detached', timeout: 15_000 });
    await page.locator('#live table#groups').waitFor();
    expect(await page.locator('#live-stamp').textContent()).toMatch(/^updated /);
    await shoot('overview');
    await page.click(`#groups a[href$="/groups/${fixture.group}"]`);
    await expectHeading(`Group ${fixture.group}`);
    expect(await page.locator('#partitions tr').count()).toBeGreaterThanOrEqual(7); // header + 2 source + 2 tier 1 + 2 DLT
    await shoot('group');
  });

  it('filters the DLT, replays two records with a dry run then a confirmed count, and shows the record page', async () => {
    await page.click('header nav a:has-text("Dead letters")');
    await page.selectOption('#pair', `${fixture.group} ${fixture.topic}`);
    await page.selectOption('select[name="reason"]', 'non-retryable');
    await Promise.all([page.waitForURL(/reason=non-retryable/), page.click('#dlt-filters button[type=submit]')]);
    expect(await page.locator('#dlt-records tr[data-event]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-event')))).toEqual(['pay#1', 'pay#2', 'hostile#1']);
    // The hostile record is on the page as text: none of its scripts ran.
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    await expectText(page.locator('#dlt-records'), '<script>window.__pwned = "key"</script>');

    const before = await highs(fixture.topic);
    await page.check('tr[data-event="pay#1"] input[name="record"]');
    await page.check('tr[data-event="pay#2"] input[name="record"]');
    await page.click('#replay-dry-run');
    await page.locator('#action-result [data-state="dry-run"]').waitFor();
    await expectText(page.locator('#action-result .summary'), '2 record(s) selected of 2 chosen: 2 to the source topic');
    expect(await highs(fixture.topic)).toEqual(before);
    await shoot('dead-letters');
    const confirm = page.locator('#action-result button[data-confirm]');
    expect(await confirm.textContent()).toBe('Replay 2 record(s)');
    await confirm.click();
    await page.locator('#action-result [data-state="done"]').waitFor();
    await expectText(page.locator('#action-result'), `replayed 2: 2 to ${fixture.topic}`);
    expect(await page.locator('#action-result progress').getAttribute('value')).toBe('2');
    await expectText(page.locator('#action-result table'), 'ada');
    expect(await highs(fixture.topic)).toEqual(before.map((high) => String(Number(high) + 1)));
    await shoot('dead-letters-replayed');

    await page.goto(`${fixture.console.url}/dlt/record?group=${fixture.group}&topic=${fixture.topic}&partition=1&offset=2`);
    await expectText(page.locator('#headers'), `<img src=x onerror="window.__pwned='header'">`);
    await expectText(page.locator('#payload'), '</pre><script>window.__pwned = \\"payload\\"</script>');
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    await page.goto(`${fixture.console.url}/dlt/record?group=${fixture.group}&topic=${fixture.topic}&partition=0&offset=1`);
    await expectText(page.locator('#payload'), '"accountId": "acct-7"');
    expect(await page.locator('#fingerprint').textContent()).toBe('fp-decode_error');
    await shoot('dead-letter');
  });

  it('releases a parked key with a dry run then a confirmed count', async () => {
    await page.click('header nav a:has-text("Parked keys")');
    const row = page.locator(`#parked-keys tr[data-key="${fixture.heldKey}"]`);
    await expectText(row, 'held: retries-exhausted, TimeoutError: bank did not answer');
    await row.locator('button[data-release]').click();
    await page.locator('#action-result [data-state="dry-run"]').waitFor();
    await expectText(page.locator('#action-result'), 'un-hold it (2 queued event(s) are handled in order)');
    await shoot('parked-keys');
    const store = new RedisParkingStore({ redis: fixture.redis, groupId: fixture.group });
    expect((await store.get(fixture.topic, 0, fixture.heldKey))?.held).toBe(true);
    await page.click('#action-result button[data-confirm]');
    await page.locator('#action-result [data-state="done"]').waitFor();
    await expectText(page.locator('#action-result'), 'p0: released, 2 queued event(s) go on in order');
    expect(await store.get(fixture.topic, 0, fixture.heldKey)).toMatchObject({ held: false, queue: ['held#1', 'held#2'] });
  });

  it('opens the Schedules, Outbox and Audit pages; a change without the CSRF token is 403, a request without the session 401', async () => {
    for (const [link, heading, name] of [['Schedules', 'Schedules', 'schedules'], ['Outbox', 'Outbox', 'outbox'], ['Audit', 'Audit', 'audit']] as const) {
      await page.click(`header nav a:has-text("${link}")`);
      await expectHeading(heading);
      await shoot(name);
    }
    await page.click('header nav a:has-text("Schedules")');
    await expectText(page.locator('#schedules'), 'nightly-report');
    await page.click('header nav a:has-text("Audit")');
    await expectText(page.locator('#audit'), 'dlt.replay');
    await expectText(page.locator('#audit'), 'keys.release');
    const body = JSON.stringify({ group: fixture.group, topic: fixture.topic, key: fixture.heldKey, confirm: 1 });
    const status = await page.evaluate(`fetch('/api/keys/release', { method: 'POST', headers: { 'content-type': 'application/json' }, body: ${JSON.stringify(body)} }).then((response) => response.status)`);
    expect(status).toBe(403);
    const stranger = await browser.newPage();
    expect((await stranger.goto(`${fixture.console.url}/dlt`))?.status()).toBe(401);
    await stranger.close();
  });
});
