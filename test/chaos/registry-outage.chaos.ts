// Invariant: with the (private) schema registry down twice while events arrive on schema ids no member has cached yet (a new version of the subject, then a new subject), nothing is dead-lettered: members wait for the registry, then apply every event exactly once, in per-key order.
import type { StackSettings } from '../../infra/stack/stack-settings.ts';
import { avroType } from '../../schemas/avro-type.ts';
import { SchemaRegistryClient } from '../../schemas/schema-registry-client.ts';
import { ChaosRun, sleep, type ScenarioResult } from './support/chaos-run.ts';
import { PrivateStack } from './support/private-stack.ts';
import { runAsMain } from './support/scenario-main.ts';

export interface RegistryOutageParameters {
  events: number;
  keys: number;
  partitions: number;
  outages: number;
  outageMs: number;
}

/** The figures: 2 outages of 60 s (plus the registry's own ~11 s restart). */
export const fullRegistryOutage: RegistryOutageParameters = { events: 12_000, keys: 1_000, partitions: 6, outages: 2, outageMs: 60_000 };

const fields = [
  { name: 'key', type: 'string' },
  { name: 'sequence', type: 'int' },
];
/** v1 of the topic's subject, then v2 (one more field), then a second subject's own schema. */
const schemas = [
  { name: 'ChaosEvent', fields },
  { name: 'ChaosEvent', fields: [...fields, { name: 'note', type: 'string', default: '' }] },
  { name: 'ChaosEventOther', fields: [...fields, { name: 'origin', type: 'string', default: 'other' }] },
].map((schema) => JSON.stringify({ type: 'record', namespace: 'orderly.chaos', ...schema }));

export async function registryOutageScenario(shared: StackSettings, parameters: RegistryOutageParameters = fullRegistryOutage): Promise<ScenarioResult> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const stack = new PrivateStack(shared);
  let run: ChaosRun | undefined;
  try {
    const settings = await stack.up();
    log(`private stack up in ${stack.dir}: registry ${settings.SCHEMA_REGISTRY_URL}`);
    const registry = new SchemaRegistryClient({ url: settings.SCHEMA_REGISTRY_URL! });
    let writer = { id: 0, type: avroType(schemas[0]!), extra: {} as Record<string, string> };
    const encode = (key: string, sequence: number) => {
      const header = Buffer.alloc(5);
      header.writeInt32BE(writer.id, 1);
      return Buffer.concat([header, writer.type.toBuffer({ key, sequence, ...writer.extra })]);
    };
    run = new ChaosRun({ settings, partitions: parameters.partitions, encodeValue: encode, memberEnv: { DECODER: 'avro', HANDLER_DELAY_MS: '2' } });
    const chaos = run;
    const subjects = [`${chaos.topic}-value`, `${chaos.topic}-other-value`];
    writer.id = await registry.register(subjects[0]!, schemas[0]!);
    await chaos.setUp();
    chaos.members.setEnv('EXPECTED_SUBJECT', subjects.join(','));
    for (let member = 0; member < 3; member++) chaos.members.start();

    const perPhase = Math.floor(parameters.events / (parameters.outages * 2 + 1));
    await chaos.produce(perPhase, parameters.keys, 10_000);
    const outages: { signal: string; schemaId: number; subject: string; publishedWhileDown: number; downMs: number }[] = [];
    for (let outage = 1; outage <= parameters.outages; outage++) {
      // A schema id no member has seen: registered just before the outage, used only from now on.
      const subject = subjects[outage === 1 ? 0 : 1]!;
      const schema = schemas[outage === 1 ? 1 : 2]!;
      const id = await registry.register(subject, schema);
      writer = { id, type: avroType(schema), extra: outage === 1 ? { note: `outage ${outage}` } : { origin: 'other' } };
      await chaos.waitForApplied(chaos.published, 60_000);
      const signal = outage % 2 === 1 ? 'SIGKILL' : 'SIGTERM';
      const downAt = Date.now();
      await stack.signal('registry', signal);
      const before = chaos.published;
      await chaos.produce(perPhase, parameters.keys, parameters.outageMs * 0.8);
      await sleep(Math.max(0, downAt + parameters.outageMs - Date.now()));
      const restartMs = await stack.restart();
      outages.push({ signal, schemaId: id, subject, publishedWhileDown: chaos.published - before, downMs: Date.now() - downAt });
      log(`outage ${outage}/${parameters.outages}: registry ${signal}, ${chaos.published - before} events on new schema id ${id} (${subject}) published while down; back after ${Date.now() - downAt} ms (restart ${restartMs} ms); applied ${await chaos.sink.appliedCount()} of ${chaos.published}`);
      await chaos.produce(perPhase, parameters.keys, 10_000);
    }
    const result = await chaos.finish('registry-outage', 'the registry down twice with events on uncached schema ids: 0 dead letters, exactly once, in order', { registryOutages: outages.length }, {
      outages,
    });
    const deadLetters = Object.values(result.details.deadLettered as Record<string, number>).reduce((sum, count) => sum + count, 0);
    result.details.deadLettersCausedByOutage = deadLetters;
    result.passed &&= deadLetters === 0;
    return result;
  } finally {
    await run?.tearDown();
    await stack.down();
  }
}

await runAsMain(import.meta, (settings) => registryOutageScenario(settings));
