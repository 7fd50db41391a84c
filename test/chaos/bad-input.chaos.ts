// Invariant: 36 kinds of bad input (hostile header names, a thousand headers, near-limit records, malformed records carrying them), 100 of each among a normal Avro stream, each end in the DLT with its reason code or are handled safely once; nothing crashes, Object.prototype is untouched, heap stays bounded, the normal stream is applied exactly once in order, and committed offsets reach the end of every partition.
import type { StackSettings } from '../../infra/stack/stack-settings.ts';
import { avroType } from '../../schemas/avro-type.ts';
import { SchemaRegistryClient } from '../../schemas/schema-registry-client.ts';
import type { Message } from '../../core/kafka-client.ts';
import { readHeaders } from '../../consumers/consumed-record.ts';
import { DltReader } from '../../operations/dlt-reader.ts';
import { deadLetterTopicOf } from '../../consumers/retries/topic-layout.ts';
import { ChaosRun, sleep, type ScenarioResult } from './support/chaos-run.ts';
import { badKinds, type SchemaIds } from './support/bad-records.ts';
import { runAsMain } from './support/scenario-main.ts';

export interface BadInputParameters {
  validEvents: number;
  keys: number;
  partitions: number;
  perKind: number;
}

/** The figures: 100 of each kind among 100,000 valid events. */
export const fullBadInput: BadInputParameters = { validEvents: 100_000, keys: 2_000, partitions: 6, perKind: 100 };

const chaosEventSchema = JSON.stringify({
  type: 'record',
  name: 'ChaosEvent',
  namespace: 'orderly.chaos',
  fields: [
    { name: 'key', type: 'string' },
    { name: 'sequence', type: 'int' },
    { name: 'tags', type: { type: 'map', values: 'string' } },
    { name: 'note', type: 'string' },
  ],
});
const otherSchema = JSON.stringify({ type: 'record', name: 'Other', namespace: 'orderly.chaos', fields: [{ name: 'key', type: 'string' }] });
const maxStringBytes = 128 * 1024;

export async function badInputScenario(settings: StackSettings, parameters: BadInputParameters = fullBadInput): Promise<ScenarioResult> {
  if (!settings.SCHEMA_REGISTRY_URL) throw new Error('the stack has no SCHEMA_REGISTRY_URL: run `npx orderly stack up`');
  const registry = new SchemaRegistryClient({ url: settings.SCHEMA_REGISTRY_URL });
  const type = avroType(chaosEventSchema);
  let ids: SchemaIds | undefined;
  const encode = (value: Parameters<SchemaIds['encode']>[0]) => {
    const header = Buffer.alloc(5);
    header.writeInt32BE(ids!.own, 1);
    return Buffer.concat([header, type.toBuffer(value)]);
  };
  const run = new ChaosRun({
    settings,
    partitions: parameters.partitions,
    encodeValue: (key, sequence) => encode({ key, sequence, tags: { origin: 'normal' }, note: '' }),
    memberEnv: { DECODER: 'avro', MAX_STRING_BYTES: String(maxStringBytes) },
  });
  const subject = `${run.topic}-value`;
  const otherSubject = `${run.topic}-other-value`;
  try {
    ids = { own: await registry.register(subject, chaosEventSchema), other: await registry.register(otherSubject, otherSchema), encode };
    await run.setUp();
    // A record the source just takes (its batch overhead and two headers aside) but no forward can carry.
    const [sourceLimit] = (await run.admin.describeConfigs({ resources: [{ type: 2, name: run.topic, configNames: ['max.message.bytes'] }], includeSynonyms: false })).resources;
    const nearLimitBytes = Number(sourceLimit?.configEntries[0]?.configValue ?? 1_048_588) - 512;
    const kinds = badKinds(maxStringBytes + 1_024, nearLimitBytes);
    const bad: Message[] = kinds.flatMap((kind) => Array.from({ length: parameters.perKind }, (_, index) => kind.build(index, ids!)));
    bad.sort(() => Math.random() - 0.5);
    run.members.setEnv('EXPECTED_SUBJECT', subject);
    run.members.start();

    // The normal stream in 10 slices, the bad records spread between them; then the same event ids with another payload.
    const producer = run.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const slices = 10;
    for (let slice = 0; slice < slices; slice++) {
      await producer.send({ topic: run.topic, acks: -1, messages: run.nextEvents(parameters.validEvents / slices, parameters.keys) });
      for (const message of bad.slice((slice * bad.length) / slices, ((slice + 1) * bad.length) / slices)) {
        await producer.send({ topic: run.topic, acks: -1, messages: [message] });
      }
    }
    const conflicts = Array.from({ length: parameters.perKind }, (_, index) => {
      const key = `key-${index}`;
      return { key, value: encode({ key, sequence: 1, tags: { origin: 'conflict' }, note: 'another payload' }), headers: { 'orderly-event-id': `${key}#1`, 'chaos-kind': 'same-id-other-payload' } };
    });
    await producer.send({ topic: run.topic, acks: -1, messages: conflicts });
    await producer.disconnect();
    const totalKinds = kinds.length + 1;
    run.log(`published ${run.published} valid events and ${bad.length + conflicts.length} bad records of ${totalKinds} kinds`);

    const result = await run.finish('bad-input', `${totalKinds} kinds of bad input, ${parameters.perKind} of each: DLT with its reason or handled safely; the normal stream unaffected`, {
      badRecords: bad.length + conflicts.length,
      badKinds: totalKinds,
    });
    // The fate of every bad record: the DLT (by reason) or applied.
    const fates = new Map<string, Map<string, number>>();
    const note = (kind: string, fate: string) => {
      const byFate = fates.get(kind) ?? new Map<string, number>();
      fates.set(kind, byFate.set(fate, (byFate.get(fate) ?? 0) + 1));
    };
    await new DltReader({ kafka: run.kafka, admin: run.admin }).read(deadLetterTopicOf(run.topic, run.groupId), (record) => {
      // A reduced dead letter (forward-rejected) keeps only the envelope: its kind is in its event id.
      const kind = readHeaders(record.headers)['chaos-kind'] ?? /^bad-(.*)-\d+#1$/.exec(record.eventId ?? '')?.[1] ?? 'normal';
      note(kind, `dlt:${record.reason}`);
    });
    const { rows } = await run.sink.pool.query<{ event_id: string }>(`select event_id from ${run.sink.table} where key like 'bad-%'`);
    for (const { event_id: eventId } of rows) note(/^bad-(.*)-\d+#1$/.exec(eventId)?.[1] ?? 'unknown', 'applied');
    const expectations = [...kinds.map((kind) => [kind.name, kind.outcome === 'applied' ? 'applied' : `dlt:${kind.outcome.deadLetter}`] as const), ['same-id-other-payload', 'dlt:id-conflict'] as const];
    const wrongFates: string[] = [];
    for (const [kind, wanted] of expectations) {
      const got = Object.fromEntries(fates.get(kind) ?? []);
      if (got[wanted] !== parameters.perKind || Object.keys(got).length !== 1) wrongFates.push(`${kind}: wanted ${parameters.perKind} ${wanted}, got ${JSON.stringify(got)}`);
    }
    if (fates.has('normal')) wrongFates.push(`normal events dead-lettered: ${JSON.stringify(Object.fromEntries(fates.get('normal')!))}`);
    result.faults = { badRecords: bad.length + conflicts.length, badKinds: totalKinds };
    result.details = {
      ...result.details,
      badRecordsWithWrongFate: wrongFates.length,
      wrongFates,
      prototypeTouched: run.members.prototypeTouched || Object.getPrototypeOf({}) !== Object.prototype,
      fates: Object.fromEntries([...fates].map(([kind, byFate]) => [kind, Object.fromEntries(byFate)])),
    };
    result.passed &&= wrongFates.length === 0;
    await sleep(0);
    return result;
  } finally {
    await run.tearDown();
    for (const name of [subject, otherSubject]) {
      await fetch(`${settings.SCHEMA_REGISTRY_URL}/subjects/${encodeURIComponent(name)}`, { method: 'DELETE' }).catch(() => undefined);
      await fetch(`${settings.SCHEMA_REGISTRY_URL}/subjects/${encodeURIComponent(name)}?permanent=true`, { method: 'DELETE' }).catch(() => undefined);
    }
  }
}

await runAsMain(import.meta, (settings) => badInputScenario(settings));
