/**
 * Operator output of records a hostile producer wrote: `orderly dlt list`, the `dlt replay` and `dlt purge` dry
 * runs and `orderly keys parked` show keys, header values, error text and payloads with every control byte, ANSI
 * escape (ESC [ 2 J, OSC 52), BEL, C1 control, bidi override and invalid UTF-8 byte escaped; `--json` stays exact.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { RedisParkingStore } from '../../../consumers/retries/redis-parking-store.ts';
import { deadLetterTopicOf } from '../../../consumers/retries/topic-layout.ts';
import { produce, testRedis } from '../../support/consumer-harness.ts';
import { orderly } from '../../support/orderly-cli.ts';
import { testAdmin, testGroupId, uniqueName } from '../../support/test-stack.ts';

const clearScreen = '\u001b[2J';
const setClipboard = '\u001b]52;c;aGFja2Vk\u0007';
const bell = '\u0007';
const c1Csi = '\u009b31m';
const rightToLeft = '\u202e';

/** Any character a terminal acts on rather than prints (newline aside, which separates our own lines). */
// eslint-disable-next-line no-control-regex -- the point: find control characters
const terminalControl = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufffd]/u;

function expectPrintable(output: string): void {
  const found = terminalControl.exec(output);
  expect(found, found ? `control U+${found[0].codePointAt(0)!.toString(16)} at ${found.index}: ${JSON.stringify(output.slice(Math.max(0, found.index - 40), found.index + 40))}` : '').toBeNull();
}

describe('operator output of hostile records', () => {
  it('escapes every non-printable character in human output and keeps --json exact', async () => {
    const topic = uniqueName('dlt-hostile');
    const groupId = testGroupId();
    const dltTopic = deadLetterTopicOf(topic, groupId);
    const admin = await testAdmin();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }, { topic: dltTopic, numPartitions: 1 }], waitForLeaders: true });
    onTestFinished(async () => {
      await admin.deleteTopics({ topics: [topic, dltTopic] }).catch(() => undefined);
    });
    const hostileKey = Buffer.concat([Buffer.from(`acct${clearScreen}${rightToLeft}`), Buffer.from([0xff, 0xc3])]);
    await produce(dltTopic, [
      {
        key: hostileKey,
        value: Buffer.from(`text ${clearScreen}${setClipboard}${bell} ${c1Csi} ${rightToLeft}evil`),
        headers: {
          'orderly-event-id': `id${setClipboard}`,
          'orderly-event-type': `Type${bell}`,
          'orderly-dlt-reason': `non-retryable${clearScreen}`,
          'orderly-error-type': `Error${c1Csi}`,
          'orderly-error-message': `declined ${rightToLeft}gnp.exe ${clearScreen}`,
        },
      },
      { key: 'json-key', value: JSON.stringify({ note: `${c1Csi}${rightToLeft}${'\u2066'}` }), headers: { 'orderly-event-id': 'plain#1' } },
    ]);

    const listed = await orderly('dlt', 'list', '--topic', topic, '--group', groupId);
    expect(listed.code, listed.stderr).toBe(0);
    expectPrintable(listed.stdout);
    expect(listed.stdout).toContain('key=acct\\u001b[2J\\u202e\\xff\\xc3');
    expect(listed.stdout).toContain('event=id\\u001b]52;c;aGFja2Vk\\u0007 (Type\\u0007)');
    expect(listed.stdout).toContain('reason non-retryable\\u001b[2J');
    expect(listed.stdout).toContain('error  Error\\u009b31m: declined \\u202egnp.exe \\u001b[2J');
    expect(listed.stdout).toContain('payload text text \\u001b[2J\\u001b]52;c;aGFja2Vk\\u0007\\u0007 \\u009b31m \\u202eevil');
    expect(listed.stdout).toContain('payload json {"note":"\\u009b31m\\u202e\\u2066"}');

    // --json: the exact text once parsed (JSON escapes the C0 controls, we escape C1, DEL, bidi and invisible
    // characters as \uXXXX too, so the raw output is printable; the key is the consumer's UTF-8 reading of its bytes).
    const json = await orderly('dlt', 'list', '--topic', topic, '--group', groupId, '--json');
    expect(json.code, json.stderr).toBe(0);
    expectPrintable(json.stdout);
    const [first] = JSON.parse(json.stdout) as { key: string; eventId: string; errorMessage: string; payload: { value: string } }[];
    expect(first).toMatchObject({ key: hostileKey.toString('utf8'), eventId: `id${setClipboard}`, errorMessage: `declined ${rightToLeft}gnp.exe ${clearScreen}` });
    expect(first!.payload.value).toBe(`text ${clearScreen}${setClipboard}${bell} ${c1Csi} ${rightToLeft}evil`);

    const replay = await orderly('dlt', 'replay', '--topic', topic, '--group', groupId);
    expect(replay.code, replay.stderr).toBe(0);
    expectPrintable(replay.stdout);
    expect(replay.stdout).toContain('key=acct\\u001b[2J\\u202e\\xff\\xc3 event=id\\u001b]52;c;aGFja2Vk\\u0007 reason=non-retryable\\u001b[2J');

    const purge = await orderly('dlt', 'purge', '--topic', topic, '--group', groupId);
    expect(purge.code, purge.stderr).toBe(0);
    expectPrintable(purge.stdout);
    expect(purge.stdout).toContain('(key acct\\u001b[2J\\u202e\\xff\\xc3, non-retryable\\u001b[2J) was not replayed');

    const parked = new RedisParkingStore({ redis: testRedis(), groupId });
    const parkedKey = `held${clearScreen}${rightToLeft}${bell}${c1Csi}`;
    const literalKey = 'held\\u001b';
    onTestFinished(() => parked.remove(topic, 0, parkedKey));
    onTestFinished(() => parked.remove(topic, 0, literalKey));
    await parked.put(topic, 0, parkedKey, { queue: [], headTier: 1, held: true, parkedAt: Date.now() });
    await parked.put(topic, 0, literalKey, { queue: [], headTier: 1, held: true, parkedAt: Date.now() });
    const keys = await orderly('keys', 'parked', '--group', groupId);
    expect(keys.code, keys.stderr).toBe(0);
    expectPrintable(keys.stdout);
    expect(keys.stdout).toContain('held\\u001b[2J\\u202e\\u0007\\u009b31m');
    // A key holding a backslash shows it doubled: never the same text as a key holding the ESC byte.
    expect(keys.stdout).toContain('held\\\\u001b ');
    const keysJson = await orderly('keys', 'parked', '--group', groupId, '--json');
    expectPrintable(keysJson.stdout);
    expect((JSON.parse(keysJson.stdout) as { key: string }[]).map(({ key }) => key).sort()).toEqual([parkedKey, literalKey].sort());
  });
});
