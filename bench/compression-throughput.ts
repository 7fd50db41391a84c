/**
 * What compression costs and buys, on 1 KB Avro events (Confluent wire format, envelope headers) whose memo is
 * text with some variety (words drawn from a fixed list, a sequence number), not one repeated character:
 * 1. codecs: each registered codec alone, compressing and decompressing a 500-event batch (MB/s of input, ratio);
 * 2. producer: EventProducer with each codec beside raw kafkajs `producer.send` with the same codec (idempotent,
 *    acks=all, maxInFlightRequests 1, batches of BENCH_BATCH): messages built before the clock starts (the strict
 *    baseline) and messages Avro-encoded in the timed loop (what a hand-written producer does), interleaved;
 * 3. consumer: the same events pre-filled uncompressed, with lz4 and with zstd, consumed to the end by raw kafkajs
 *    and by OrderedConsumer (no-op handler), fresh groups, interleaved.
 * Goals (set here): EventProducer ≥ 0.9x raw kafkajs with the same codec; OrderedConsumer on lz4 and zstd input
 * ≥ 0.8x OrderedConsumer on uncompressed input.
 * Run: `npm run bench:compression` (BENCH_EVENTS, default 20,000 per run; small for the shared 2-core machine).
 */
import { performance } from 'node:perf_hooks';
import kafkajs from 'kafkajs';
import { compressionIdOf, type CompressionName } from '../core/compression/compression.ts';
import { registerCompressionCodecs } from '../core/compression/register-compression-codecs.ts';
import { Partitioners, type Message } from '../core/kafka-client.ts';
import { EventProducer } from '../producers/event-producer.ts';
import { envelopeToHeaders } from '../producers/envelope-headers.ts';
import { newEventId } from '../producers/event-id.ts';
import { SchemaRegistryClient } from '../schemas/schema-registry-client.ts';
import { encodeWireFormat } from '../schemas/wire-format.ts';
import { benchKafka, benchSettings, brokersOf, createBenchTopic, environment, interleave, median, ratios, round, summarize, uniqueName, writeResults } from './support/bench-kit.ts';
import { OrderedConsumer } from '../consumers/ordered-consumer.ts';
import { benchEventType } from './support/bench-schema.ts';
import { writtenSchemaText } from '../schemas/avro-type.ts';

const events = Number(process.env.BENCH_EVENTS ?? 20_000);
const batchSize = Number(process.env.BENCH_BATCH ?? 500);
const repetitions = Number(process.env.BENCH_REPETITIONS ?? 3);
const partitions = 6;
const goals = { producer: 0.9, consumer: 0.8 };
const codecs = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const satisfies readonly CompressionName[];

const settings = benchSettings();
if (!settings.SCHEMA_REGISTRY_URL) throw new Error('the compression bench needs SCHEMA_REGISTRY_URL: run `npx orderly stack up`');
const kafka = benchKafka(settings, 'bench-compression');
const registry = new SchemaRegistryClient({ url: settings.SCHEMA_REGISTRY_URL });
const admin = kafka.admin();
await admin.connect();

const words = ['deposit', 'transfer', 'monthly', 'fee', 'refund', 'invoice', 'salary', 'groceries', 'rent', 'EUR', 'account', 'settled', 'pending', 'card', 'branch', 'Lisbon', 'Berlin', 'Oslo', 'ref'];
/** About 996 characters of text: words from a fixed list in a per-event order, and the event's number. */
function memoOf(index: number): string {
  let memo = `event ${index}:`;
  for (let word = index; memo.length < 990; word = (word * 7 + 3) % 1_000_003) memo += ` ${words[word % words.length]}`;
  return memo.slice(0, 996);
}
const valueOf = (index: number) => ({ accountId: `account-${index % 1000}`, sequence: index, amountMinor: 1234 + (index % 97), currency: 'EUR', memo: memoOf(index) });

// 1. Codecs alone.
registerCompressionCodecs();
type Codec = { compress(encoder: { buffer: Buffer }): Promise<Buffer>; decompress(data: Buffer): Promise<Buffer> };
const codecTable = kafkajs.CompressionCodecs as unknown as Record<number, () => Codec>;
const sampleBatch = Buffer.concat(Array.from({ length: batchSize }, (_, index) => encodeWireFormat(1, benchEventType.toBuffer(valueOf(index)))));
const codecResults: Record<string, { ratio: number; compressMBps: number; decompressMBps: number }> = {};
for (const name of codecs.filter((codec) => codec !== 'none')) {
  const codec = codecTable[compressionIdOf[name]]!();
  const compressed = await codec.compress({ buffer: sampleBatch });
  const rounds = 40;
  const measure = async (work: () => Promise<unknown>) => {
    const runs: number[] = [];
    for (let repetition = 0; repetition < 5; repetition++) {
      const startedAt = performance.now();
      for (let round = 0; round < rounds; round++) await work();
      runs.push((sampleBatch.length * rounds) / ((performance.now() - startedAt) / 1000) / 1e6);
    }
    return median(runs);
  };
  codecResults[name] = {
    ratio: round(sampleBatch.length / compressed.length, 2),
    compressMBps: round(await measure(() => codec.compress({ buffer: sampleBatch })), 0),
    decompressMBps: round(await measure(() => codec.decompress(compressed)), 0),
  };
  console.log(`${name.padEnd(7)} ratio ${codecResults[name].ratio}  compress ${codecResults[name].compressMBps} MB/s  decompress ${codecResults[name].decompressMBps} MB/s`);
}

// 2. Producer: EventProducer vs raw kafkajs, per codec.
const topic = await createBenchTopic(admin, 'bench-compression', partitions);
const schemaId = await registry.register(`${topic}-value`, writtenSchemaText(benchEventType));
const producers = Object.fromEntries(codecs.map((compression) => [compression, new EventProducer({ kafka, registry, topic, autoRegister: true, maxInFlight: batchSize, compression })])) as Record<CompressionName, EventProducer>;
const raw = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
await raw.connect();
for (const producer of Object.values(producers)) await producer.connect();

function handBuilt(index: number): Message {
  return {
    key: `account-${index % 1000}`,
    value: encodeWireFormat(schemaId, benchEventType.toBuffer(valueOf(index))),
    headers: envelopeToHeaders({ eventId: newEventId(), eventType: 'orderly.bench.BenchDeposited', occurredAt: new Date().toISOString() }),
  };
}

type ProducerArm = `${'event-producer' | 'kafkajs' | 'kafkajs-hand-encoded'}-${CompressionName}`;
const producerArms = codecs.flatMap((codec) => [`event-producer-${codec}`, `kafkajs-${codec}`, `kafkajs-hand-encoded-${codec}`] as ProducerArm[]);
async function runProducerArm(arm: ProducerArm, count = events): Promise<number> {
  const compression = arm.slice(arm.lastIndexOf('-') + 1) as CompressionName;
  const handEncoded = arm.startsWith('kafkajs-hand-encoded');
  const prebuilt = arm.startsWith('kafkajs') && !handEncoded ? Array.from({ length: count }, (_, index) => handBuilt(index)) : [];
  const startedAt = performance.now();
  for (let start = 0; start < count; start += batchSize) {
    const end = Math.min(count, start + batchSize);
    if (arm.startsWith('event-producer')) {
      const batch = [];
      for (let index = start; index < end; index++) batch.push({ key: `account-${index % 1000}`, schema: benchEventType, value: valueOf(index) });
      await producers[compression].publishBatch(batch);
    } else {
      const messages = handEncoded ? Array.from({ length: end - start }, (_, offset) => handBuilt(start + offset)) : prebuilt.slice(start, end);
      await raw.send({ topic, acks: -1, compression: compressionIdOf[compression], messages });
    }
  }
  return count / ((performance.now() - startedAt) / 1000);
}
for (const arm of producerArms) await runProducerArm(arm, Math.min(events, 2_000)); // warm-up
const produced = await interleave(producerArms, repetitions, (arm) => runProducerArm(arm));

// 3. Consumer: uncompressed, lz4 and zstd input.
const inputCodecs = ['none', 'lz4', 'zstd'] as const;
const inputTopics = {} as Record<(typeof inputCodecs)[number], string>;
const fill = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
await fill.connect();
for (const codec of inputCodecs) {
  inputTopics[codec] = await createBenchTopic(admin, `bench-compression-${codec}`, partitions);
  for (let start = 0; start < events; start += batchSize) {
    const messages = Array.from({ length: Math.min(batchSize, events - start) }, (_, offset) => handBuilt(start + offset));
    await fill.send({ topic: inputTopics[codec], acks: -1, compression: compressionIdOf[codec], messages });
  }
}
await fill.disconnect();
type ConsumerArm = `${'raw-kafkajs' | 'orderly-noop'}-${(typeof inputCodecs)[number]}`;
const consumerArms = inputCodecs.flatMap((codec) => [`raw-kafkajs-${codec}`, `orderly-noop-${codec}`] as ConsumerArm[]);
const kafkaOptions = { brokers: brokersOf(settings), clientId: 'bench-compression' };
/**
 * Timed from the group join to the last record: unlike the overhead bench, the first fetch is inside the timing,
 * since decompressing is part of what is measured (a whole lz4 topic of this size arrives in one or two fetches).
 */
async function runConsumerArm(arm: ConsumerArm): Promise<number> {
  const codec = arm.slice(arm.lastIndexOf('-') + 1) as (typeof inputCodecs)[number];
  let joinedAt = 0;
  let count = 0;
  let finish: (endAt: number) => void = () => undefined;
  const finished = new Promise<number>((resolve, reject) => {
    finish = resolve;
    setTimeout(() => reject(new Error(`${arm}: ${count} of ${events} in 300 s`)), 300_000).unref();
  });
  const counted = () => {
    count += 1;
    if (count === events) finish(performance.now());
  };
  if (arm.startsWith('raw')) {
    const consumer = kafka.consumer({ groupId: uniqueName('bench-raw'), allowAutoTopicCreation: false, maxWaitTimeInMs: 500 });
    consumer.on(consumer.events.GROUP_JOIN, () => (joinedAt = performance.now()));
    await consumer.connect();
    await consumer.subscribe({ topics: [inputTopics[codec]], fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch, resolveOffset }) => {
        for (const message of batch.messages) {
          resolveOffset(message.offset);
          counted();
        }
      },
    });
    const endAt = await finished;
    await consumer.disconnect();
    return events / ((endAt - joinedAt) / 1000);
  }
  const consumer = new OrderedConsumer({ kafka: kafkaOptions, groupId: uniqueName('bench-orderly'), topics: [inputTopics[codec]], retryTiersMs: [], ordering: 'key', handler: async () => counted() });
  consumer.events.once('consumer.group.joined', () => (joinedAt = performance.now()));
  await consumer.start();
  const endAt = await finished;
  await consumer.stop();
  return events / ((endAt - joinedAt) / 1000);
}
const consumed = await interleave(consumerArms, repetitions, runConsumerArm);

for (const producer of Object.values(producers)) await producer.close();
await raw.disconnect();
for (const name of [topic, ...Object.values(inputTopics)]) await admin.deleteTopics({ topics: [name] }).catch(() => undefined);
await admin.disconnect();
await fetch(`${registry.url}/subjects/${topic}-value`, { method: 'DELETE' }).catch(() => undefined);
await fetch(`${registry.url}/subjects/${topic}-value?permanent=true`, { method: 'DELETE' }).catch(() => undefined);

const producerRatios = Object.fromEntries(
  codecs.map((codec) => [codec, { ...ratios(produced[`event-producer-${codec}`], produced[`kafkajs-${codec}`]), vsHandEncoded: ratios(produced[`event-producer-${codec}`], produced[`kafkajs-hand-encoded-${codec}`]), goal: goals.producer }]),
) as Record<CompressionName, ReturnType<typeof ratios> & { vsHandEncoded: ReturnType<typeof ratios>; goal: number; met?: boolean }>;
for (const entry of Object.values(producerRatios)) entry.met = entry.ratio >= goals.producer;
const consumerRatios = Object.fromEntries(
  (['lz4', 'zstd'] as const).map((codec) => [
    codec,
    { orderlyVsUncompressed: ratios(consumed[`orderly-noop-${codec}`], consumed['orderly-noop-none']), rawVsUncompressed: ratios(consumed[`raw-kafkajs-${codec}`], consumed['raw-kafkajs-none']), goal: goals.consumer },
  ]),
) as Record<'lz4' | 'zstd', { orderlyVsUncompressed: ReturnType<typeof ratios>; rawVsUncompressed: ReturnType<typeof ratios>; goal: number; met?: boolean }>;
for (const entry of Object.values(consumerRatios)) entry.met = entry.orderlyVsUncompressed.ratio >= goals.consumer;
const met = Object.values(producerRatios).every((entry) => entry.met) && Object.values(consumerRatios).every((entry) => entry.met);

const producerSummary = Object.fromEntries(producerArms.map((arm) => [arm, summarize(produced[arm])]));
const consumerSummary = Object.fromEntries(consumerArms.map((arm) => [arm, summarize(consumed[arm])]));
const setup = environment({
  snappy: 'snappy (napi-rs), xerial framing written',
  lz4: 'lz4-napi (napi-rs over lz4_flex), LZ4 frame format',
  zstd: `node:zlib (libzstd in Node ${process.version}), level 3`,
  gzip: 'node:zlib',
  events,
  batchSize,
  repetitions,
  partitions,
  valueBytes: encodeWireFormat(schemaId, benchEventType.toBuffer(valueOf(123_456))).length,
  values: 'BenchDeposited Avro with a ~996-character memo of words in a per-event order (compressible, not one repeated character)',
  producerSettings: 'idempotent, acks=all, maxInFlightRequests 1, DefaultPartitioner (murmur2), same codec in both arms',
  consumerArms: 'raw kafkajs eachBatch no-op (auto-resolve, auto-commit); OrderedConsumer ordering key, no-op handler, no decoder, retryTiersMs []; timed from the group join to the last record (first fetch included)',
});
const result = { setup, codecs: codecResults, producer: producerSummary, consumer: consumerSummary, ratios: { producer: producerRatios, consumer: consumerRatios }, goal: goals, met };

const section = [
  '## Compression (`npm run bench:compression`)',
  '',
  `${setup.machine}; Node ${setup.node}; kafkajs ${setup.kafkajs}. ${events} events of ${setup.valueBytes} bytes per run, batches of ${batchSize}, ${repetitions} repetitions, arms interleaved. Measured ${new Date().toISOString().slice(0, 10)}.`,
  '',
  '| codec | ratio | compress MB/s | decompress MB/s | EventProducer events/s | raw kafkajs events/s (pre-built / hand-encoded) | EventProducer / raw (pre-built / hand-encoded) |',
  '|---|---|---|---|---|---|---|',
  ...codecs.map((codec) => {
    const alone = codecResults[codec];
    return `| ${codec} | ${alone?.ratio ?? 1} | ${alone?.compressMBps ?? '-'} | ${alone?.decompressMBps ?? '-'} | ${producerSummary[`event-producer-${codec}`]!.median} | ${producerSummary[`kafkajs-${codec}`]!.median} / ${producerSummary[`kafkajs-hand-encoded-${codec}`]!.median} | ${producerRatios[codec].ratio} / ${producerRatios[codec].vsHandEncoded.ratio} |`;
  }),
  '',
  '| input | raw kafkajs events/s | OrderedConsumer events/s | OrderedConsumer vs uncompressed input |',
  '|---|---|---|---|',
  ...inputCodecs.map((codec) => `| ${codec} | ${consumerSummary[`raw-kafkajs-${codec}`]!.median} | ${consumerSummary[`orderly-noop-${codec}`]!.median} | ${codec === 'none' ? 1 : consumerRatios[codec].orderlyVsUncompressed.ratio} |`),
  '',
  `Goals: EventProducer ≥ ${goals.producer}x raw kafkajs with the same codec; OrderedConsumer on lz4/zstd input ≥ ${goals.consumer}x on uncompressed input: ${met ? 'met' : 'missed (see the JSON for which)'}.`,
];
writeResults('compression-throughput', result, section);
process.exit(0);
