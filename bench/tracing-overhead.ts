/**
 * What the consumer span costs per record, in process (no broker: the handler attempts alone, where the span
 * wraps them; consumers/tracing/traced-attempts.ts). Arms, interleaved, BENCH_TRACING_REPETITIONS times over
 * BENCH_TRACING_RECORDS records each, 1,000 at a time (a no-op handler, the real HandlerAttempts):
 * - `bare`: HandlerAttempts.run as before tracing existed;
 * - `traced-off`: through the tracing wrapper with no tracer provider registered (the API's no-op): the goal,
 *   near zero over `bare`;
 * - `traced-on`: an SDK tracer provider registered (always sampled, spans dropped by a no-op processor), an
 *   AsyncLocalStorage context manager, a `traceparent` on every record: the price of tracing when it is on.
 * Figure: ns per record (median of the repetitions). Run: `npm run bench:tracing`.
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AlwaysOnSampler, NoopSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { HandlerAttempts } from '../consumers/handler-attempts.ts';
import { validateOrderedConsumerOptions } from '../consumers/options.ts';
import { tracedAttempts, type Attempts } from '../consumers/tracing/traced-attempts.ts';
import { ConsumerEventEmitter } from '../consumers/events.ts';
import { createHandledEvent } from '../consumers/handled-event.ts';
import { environment, loadNow, writeResults } from './support/bench-kit.ts';

const records = Number(process.env.BENCH_TRACING_RECORDS ?? 200_000);
const repetitions = Number(process.env.BENCH_TRACING_REPETITIONS ?? 5);
const wave = 1_000;
type Arm = 'bare' | 'traced-off' | 'traced-on';
const arms: Arm[] = ['bare', 'traced-off', 'traced-on'];

const options = validateOrderedConsumerOptions<unknown>({ kafka: { brokers: ['127.0.0.1:9'] }, groupId: 'bench-tracing', topics: ['bench'], handler: async () => undefined, retryTiersMs: [] });
const attempts = new HandlerAttempts(options, new ConsumerEventEmitter());
const traced = tracedAttempts(attempts, options.groupId);
const provider = new TracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [new NoopSpanProcessor()] });
const contextManager = new AsyncLocalStorageContextManager();
const stop = new AbortController().signal;
const hooks = { pause: async () => undefined, beforeRetry: async () => undefined };

const headers = { 'orderly-event-id': 'e', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
const rawHeaders = Object.entries(headers).map(([name, value]) => ({ name: Buffer.from(name), value: Buffer.from(value) }));
const value = Buffer.alloc(1_000);
const recordAt = (offset: number) => ({ topic: 'bench', partition: offset % 12, offset: String(offset), key: Buffer.from(`account-${offset % 10_000}`), value, headers, rawHeaders, tier: 0, timestamp: '0' });

async function runArm(arm: Arm): Promise<number> {
  if (arm === 'traced-on') {
    context.setGlobalContextManager(contextManager.enable());
    trace.setGlobalTracerProvider(provider);
  }
  const runner: Pick<Attempts<unknown>, 'run'> = arm === 'bare' ? attempts : traced;
  const started = process.hrtime.bigint();
  for (let start = 0; start < records; start += wave) {
    const running: Promise<unknown>[] = [];
    for (let offset = start; offset < start + wave; offset++) {
      const record = recordAt(offset);
      const event = createHandledEvent(record, record, value, `event-${offset}`, 'orderly.bench.Event');
      running.push(runner.run(event, 0, stop, hooks, undefined, record));
    }
    await Promise.all(running);
  }
  const nsPerRecord = Number(process.hrtime.bigint() - started) / records;
  if (arm === 'traced-on') {
    trace.disable();
    context.disable();
  }
  return nsPerRecord;
}

const results: Record<Arm, number[]> = { bare: [], 'traced-off': [], 'traced-on': [] };
await runArm('bare'); // warm-up
for (let repetition = 0; repetition < repetitions; repetition++) {
  const order = [...arms.slice(repetition % arms.length), ...arms.slice(0, repetition % arms.length)];
  for (const arm of order) results[arm].push(await runArm(arm));
  console.log(`repetition ${repetition + 1}: ${arms.map((arm) => `${arm} ${results[arm].at(-1)!.toFixed(0)} ns`).join(', ')}`);
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const medians = Object.fromEntries(arms.map((arm) => [arm, Math.round(median(results[arm]))])) as Record<Arm, number>;
writeResults('tracing-overhead', { environment: environment({ loadAverageAtEnd: loadNow() }), records, repetitions, nsPerRecord: results, medians }, [
  '## Tracing overhead (consumer spans, in process)',
  '',
  `${records.toLocaleString('en')} records per arm, ${repetitions} repetitions interleaved, no-op handler, the real HandlerAttempts; median ns per record (load ${loadNow()}).`,
  '',
  '| Arm | ns/record | over bare |',
  '|---|---|---|',
  ...arms.map((arm) => `| ${arm} | ${medians[arm]} | ${arm === 'bare' ? '-' : `${medians[arm] - medians.bare >= 0 ? '+' : ''}${medians[arm] - medians.bare}`} |`),
]);
