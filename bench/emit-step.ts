/**
 * What `context.emit` costs: one consumer member handles N events (12 partitions, 500 keys, concurrency 64) in
 * three arms, interleaved: **plain** (the handler does nothing), **emit** (the handler emits one follow-up event
 * per source through an `EventProducer`, awaited, acks=all: the source completes only after it; the emits of
 * concurrent handlers go out in batches, consumers/emit/emit-batcher.ts) and **emit-unbatched** (the same, one
 * `publish` per emit: the producer is given without `publishBatch`). Figure: events/s from the consumer's start
 * to the last handled event. Run: `npm run bench:emit` (BENCH_EMIT_EVENTS, default 10000; BENCH_EMIT_REPETITIONS, default 3).
 */
import { OrderedConsumer } from '../consumers/ordered-consumer.ts';
import { EventProducer } from '../producers/event-producer.ts';
import { SchemaRegistryClient } from '../schemas/schema-registry-client.ts';
import { benchKafka, benchSettings, brokersOf, createBenchTopic, environment, interleave, loadNow, prefill, ratios, sleep, summarize, uniqueName, writeResults } from './support/bench-kit.ts';

const events = Number(process.env.BENCH_EMIT_EVENTS ?? 10_000);
const repetitions = Number(process.env.BENCH_EMIT_REPETITIONS ?? 3);
const partitions = 12;
const keys = 500;
const concurrency = 64;
const settings = benchSettings();
const kafka = benchKafka(settings, 'bench-emit-step');
const admin = kafka.admin();
await admin.connect();
const registry = new SchemaRegistryClient({ url: settings.SCHEMA_REGISTRY_URL! });
const followUpSchema = JSON.stringify({ type: 'record', name: 'BenchFollowUp', namespace: 'orderly.bench', fields: [{ name: 'key', type: 'string' }, { name: 'index', type: 'long' }] });
const topics: string[] = [];

type Arm = 'plain' | 'emit' | 'emit-unbatched';

async function runArm(arm: Arm): Promise<number> {
  const source = await createBenchTopic(admin, `bench-emit-${arm}`, partitions);
  const target = await createBenchTopic(admin, `bench-emit-${arm}-out`, partitions);
  topics.push(source, target);
  await prefill(kafka, source, events, (index) => ({ key: `key-${index % keys}`, value: Buffer.from(String(index)) }));
  const producer = arm !== 'plain' ? new EventProducer({ kafka: benchKafka(settings, 'bench-emit-producer'), registry, autoRegister: true }) : undefined;
  // Registered before the clock starts: the first emit would otherwise pay the registry round trip.
  if (producer) await producer.publish({ topic: target, key: 'warm-up', schema: followUpSchema, value: { key: 'warm-up', index: -1 } });
  let handled = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const consumer = new OrderedConsumer<Buffer>({
    kafka: { brokers: brokersOf(settings), clientId: uniqueName('bench-emit-consumer') },
    groupId: uniqueName('bench-emit-group'),
    topics: [source],
    concurrency,
    retryTiersMs: [],
    // Without publishBatch, the consumer sends each emit with its own publish.
    ...(producer ? { producer: arm === 'emit' ? producer : { publish: producer.publish.bind(producer) } } : {}),
    handler: async (event, context) => {
      if (arm !== 'plain') await context.emit(target, event.key!, { schema: followUpSchema, value: { key: event.key!, index: Number(event.value.toString()) } });
      if (++handled === events) done();
    },
  });
  const startedAt = performance.now();
  await consumer.start();
  await Promise.race([finished, sleep(300_000).then(() => Promise.reject(new Error(`${arm}: ${handled} of ${events} handled in 300 s`)))]);
  const seconds = (performance.now() - startedAt) / 1000;
  await consumer.stop();
  await producer?.close();
  return events / seconds;
}

const loadAtStart = loadNow();
const measured = await interleave(['plain', 'emit', 'emit-unbatched'] as const, repetitions, runArm);
await admin.deleteTopics({ topics }).catch(() => undefined);
await admin.disconnect();
const plain = summarize(measured.plain);
const emit = summarize(measured.emit);
const unbatched = summarize(measured['emit-unbatched']);
const share = ratios(measured.emit, measured.plain);
const batching = ratios(measured.emit, measured['emit-unbatched']);
const setup = environment({
  loadAverageAtStart: loadAtStart,
  workload: `${events} events, ${partitions} partitions, ${keys} keys, one member, concurrency ${concurrency}; emit: one follow-up per source (Avro, 2 fields) to a ${partitions}-partition topic, awaited`,
  loadAverageAtEnd: loadNow(),
});
writeResults('emit-step', { setup, arms: { plain, emit, emitUnbatched: unbatched }, emitShareOfPlain: share, batchedOverUnbatched: batching }, [
  '## Handlers that emit (`context.emit`)',
  '',
  `${events} events over ${keys} keys on ${partitions} partitions, one member at concurrency ${concurrency}, ${repetitions} interleaved repetitions (\`npm run bench:emit\`). The emit arms' handler emits one Avro event per source, awaited (acks=all); the source completes after it. \`emit\` sends the emits of concurrent handlers in batches; \`emit-unbatched\` sends each with its own publish (one produce request per round trip, as \`EventProducer\` keeps one in flight).`,
  '',
  '| arm | median events/s | runs | load averages |',
  '|---|---|---|---|',
  `| plain (no emit) | ${plain.median} | ${plain.runs.join(', ')} | ${plain.loadAverages.join(', ')} |`,
  `| emit, one per event (batched) | ${emit.median} | ${emit.runs.join(', ')} | ${emit.loadAverages.join(', ')} |`,
  `| emit, one per event, one publish each | ${unbatched.median} | ${unbatched.runs.join(', ')} | ${unbatched.loadAverages.join(', ')} |`,
  '',
  `batched / unbatched: ${batching.ratio} (paired: median ${batching.pairedMedian}, spread ${batching.pairedSpread.join(' to ')}). emit / plain: ${share.ratio} (paired per repetition: median ${share.pairedMedian}, spread ${share.pairedSpread.join(' to ')}). Machine: ${setup.machine}; load average ${setup.loadAverageAtStart} at start, ${setup.loadAverageAtEnd} at the end.`,
]);
process.exit(0);
