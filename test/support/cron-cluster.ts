/**
 * Instances of `orderly cron run` as child processes for the cron tests, chaos scenario and bench: started,
 * SIGKILLed, SIGSTOPped and continued, stopped with SIGTERM; who leads is read from their log lines. Then the
 * tick topic is read back (read_committed, as the Orderly consumer reads) and checked slot by slot.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { createKafkaClient, type Kafka } from '../../core/kafka-client.ts';
import { projectRoot } from '../../infra/stack/stack-paths.ts';
import { CronSchedule } from '../../scheduling/cron-schedule.ts';
import { createScheduleTopic } from '../../scheduling/schedule-topic.ts';

export interface CronClusterOptions {
  brokers: string;
  /** @defaultValue `'* * * * * *'` (every second) */
  expression?: string;
  sessionTimeoutMs?: number;
  log?: (line: string) => void;
}

interface Instance {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  frozen: boolean;
}

export interface TickLogLine {
  instance: string;
  slot: string;
  latenessMs: number;
  /** A live tick's split of its lateness: its timer woke this long after the slot, and its commit took commitMs. */
  wokeLateMs?: number;
  commitMs?: number;
  mode: 'live' | 'catch-up';
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function cronName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

export class CronCluster {
  readonly name = cronName('cron');
  readonly tickTopic = `${this.name}.ticks`;
  readonly scheduleTopic = `${this.name}.schedules`;
  readonly expression: string;
  readonly kafka: Kafka;
  readonly ticks: TickLogLine[] = [];
  readonly fencedLines: string[] = [];
  readonly leaderChanges: { instance: string; at: number }[] = [];
  /** Exits nobody asked for. */
  crashes = 0;
  readonly #options: CronClusterOptions;
  readonly #instances: Instance[] = [];
  #started = 0;
  #leader: string | undefined;

  constructor(options: CronClusterOptions) {
    this.#options = options;
    this.expression = options.expression ?? '* * * * * *';
    this.kafka = createKafkaClient({ brokers: options.brokers.split(','), clientId: `${this.name}-checker` });
  }

  async setUp(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await createScheduleTopic(admin, this.scheduleTopic);
      await admin.createTopics({ topics: [{ topic: this.tickTopic, numPartitions: 3 }], waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }
  }

  async tearDown(): Promise<void> {
    for (const instance of this.#instances) {
      if (instance.frozen) instance.child.kill('SIGCONT');
      instance.child.kill('SIGKILL');
    }
    await Promise.all(this.#instances.map((instance) => instance.exited));
    const admin = this.kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [this.tickTopic, this.scheduleTopic] }).catch(() => undefined);
    await admin.disconnect();
  }

  /** The instance that said last that it leads (and has not said it stopped), if it is running. */
  get leader(): string | undefined {
    return this.#instances.some((instance) => instance.name === this.#leader) ? this.#leader : undefined;
  }

  get running(): string[] {
    return this.#instances.map(({ name }) => name);
  }

  start(): string {
    const name = `i${++this.#started}`;
    const child = spawn(
      process.execPath,
      [
        'cli/bin.ts',
        'cron',
        'run',
        '--name',
        this.name,
        '--schedule',
        this.expression,
        '--topic',
        this.tickTopic,
        '--schedule-topic',
        this.scheduleTopic,
        '--instance',
        name,
        '--session-timeout',
        String(this.#options.sessionTimeoutMs ?? 6_000),
        '--log-level',
        'debug',
      ],
      { cwd: projectRoot, env: { ...process.env, KAFKA_BROKERS: this.#options.brokers, KAFKAJS_NO_PARTITIONER_WARNING: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    createInterface({ input: child.stdout! }).on('line', (line) => this.#onLine(name, line));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      if (!line.includes('TimeoutNegativeWarning') && !line.includes('Timeout duration was set') && !line.includes('--trace-warnings')) this.#options.log?.(`${name} stderr: ${line}`);
    });
    const instance: Instance = { name, child, frozen: false, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
    void instance.exited.then((code) => {
      const index = this.#instances.indexOf(instance);
      if (index >= 0) {
        this.#instances.splice(index, 1);
        this.crashes++;
        this.#options.log?.(`${name} exited on its own (code ${code})`);
      }
    });
    this.#instances.push(instance);
    return name;
  }

  #onLine(name: string, line: string): void {
    let parsed: { component?: string; msg?: string; slot?: string; latenessMs?: number; wokeLateMs?: number; commitMs?: number; mode?: 'live' | 'catch-up' };
    try {
      parsed = JSON.parse(line) as typeof parsed;
    } catch {
      this.#options.log?.(`${name}: ${line}`);
      return;
    }
    if (parsed.component !== 'cron-scheduler') return;
    if (parsed.msg === 'tick published') {
      const split = parsed.wokeLateMs === undefined || parsed.commitMs === undefined ? {} : { wokeLateMs: parsed.wokeLateMs, commitMs: parsed.commitMs };
      this.ticks.push({ instance: name, slot: parsed.slot!, latenessMs: parsed.latenessMs!, ...split, mode: parsed.mode! });
    }
    else if (parsed.msg?.startsWith('leading the schedule')) {
      this.#leader = name;
      this.leaderChanges.push({ instance: name, at: Date.now() });
      this.#options.log?.(`${name} leads`);
    } else if (parsed.msg === 'no longer leading the schedule' && this.#leader === name) this.#leader = undefined;
    else if (parsed.msg?.startsWith('fenced')) {
      this.fencedLines.push(name);
      this.#options.log?.(`${name} was fenced`);
    } else if (parsed.msg?.startsWith('claim or publish failed')) this.#options.log?.(`${name}: ${line.slice(0, 400)}`);
  }

  /** Waits until an instance leads (and has published since `since`), up to `timeoutMs`. */
  async waitForLeader(timeoutMs: number, since = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const leader = this.leader;
      if (leader && this.ticks.some((tick) => tick.instance === leader && Date.parse(tick.slot) >= since)) return leader;
      if (Date.now() > deadline) throw new Error(`no instance led and published within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  #take(name: string): Instance {
    const instance = this.#instances.find((candidate) => candidate.name === name);
    if (!instance) throw new Error(`no running instance ${name}`);
    return instance;
  }

  async kill(name: string): Promise<void> {
    const instance = this.#take(name);
    this.#instances.splice(this.#instances.indexOf(instance), 1);
    instance.child.kill('SIGKILL');
    await instance.exited;
    if (this.#leader === name) this.#leader = undefined;
  }

  freeze(name: string): void {
    const instance = this.#take(name);
    instance.frozen = true;
    instance.child.kill('SIGSTOP');
  }

  thaw(name: string): void {
    const instance = this.#take(name);
    instance.frozen = false;
    instance.child.kill('SIGCONT');
  }

  /** SIGTERM to every instance; waits for them to leave. */
  async stopAll(): Promise<void> {
    const instances = this.#instances.splice(0);
    for (const instance of instances) {
      if (instance.frozen) instance.child.kill('SIGCONT');
      instance.child.kill('SIGTERM');
    }
    await Promise.all(instances.map(async (instance) => {
      const timer = setTimeout(() => instance.child.kill('SIGKILL'), 20_000);
      await instance.exited;
      clearTimeout(timer);
    }));
  }

  /** Ticks of the schedule on its partition whose slot is before the slot of the tick written before it. */
  async orderViolations(timeoutMs = 30_000): Promise<number> {
    const records = await readTicks(this.kafka, this.tickTopic, timeoutMs);
    let violations = 0;
    const lastByPartition = new Map<number, string>();
    for (const record of [...records].sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)))) {
      const previous = lastByPartition.get(record.partition);
      if (previous !== undefined && record.slot < previous) violations++;
      lastByPartition.set(record.partition, record.slot);
    }
    return violations;
  }

  /** Reads every committed tick (read_committed) and checks the slots from the first to the last. */
  async check(timeoutMs = 30_000): Promise<TickCheck> {
    const records = await readTicks(this.kafka, this.tickTopic, timeoutMs);
    return checkTicks(records, new CronSchedule(this.expression));
  }
}

export interface TickRecord {
  slot: string;
  eventId: string;
  offset: string;
  partition: number;
}

export interface TickCheck {
  ticks: number;
  firstSlot?: string;
  lastSlot?: string;
  /** Slots of the schedule between the first and the last tick with no tick. */
  missedSlots: string[];
  /** Slots with ticks of two or more different event ids. */
  slotsWithTwoIds: number;
  /** Records beyond the first of a slot with the same id. */
  duplicates: number;
}

export function checkTicks(records: readonly TickRecord[], schedule: CronSchedule): TickCheck {
  const bySlot = new Map<string, TickRecord[]>();
  for (const record of records) bySlot.set(record.slot, [...(bySlot.get(record.slot) ?? []), record]);
  const slots = [...bySlot.keys()].sort();
  const check: TickCheck = { ticks: records.length, missedSlots: [], slotsWithTwoIds: 0, duplicates: 0 };
  if (slots.length === 0) return check;
  check.firstSlot = slots[0];
  check.lastSlot = slots.at(-1);
  for (const [, ticks] of bySlot) {
    if (new Set(ticks.map((tick) => tick.eventId)).size > 1) check.slotsWithTwoIds++;
    check.duplicates += ticks.length - 1;
  }
  const expected = schedule.slotsBetween(Date.parse(slots[0]!) - 1, Date.parse(slots.at(-1)!)).slots;
  check.missedSlots = expected.map((slot) => new Date(slot).toISOString()).filter((slot) => !bySlot.has(slot));
  return check;
}

/** Every tick on the topic, read_committed, through a throwaway group that commits nothing. */
export async function readTicks(kafka: Kafka, topic: string, timeoutMs: number): Promise<TickRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map(ends.filter((end) => end.high !== end.low).map((end) => [end.partition, BigInt(end.high)]));
  const records: TickRecord[] = [];
  if (remaining.size === 0) return records;
  const consumer = kafka.consumer({ groupId: cronName('cron-checker'), readUncommitted: false, maxWaitTimeInMs: 200 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`could not read ${topic} to its end within ${timeoutMs} ms`)), timeoutMs);
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        const end = remaining.get(payload.partition);
        if (end !== undefined && BigInt(payload.lastOffset) + 1n >= end) remaining.delete(payload.partition);
        if (remaining.size === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            for (const message of batch.messages) {
              const header = (name: string) => message.headers?.[name]?.toString();
              records.push({ slot: header('orderly-scheduled-for') ?? '?', eventId: header('orderly-event-id') ?? '?', offset: message.offset, partition: batch.partition });
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return records;
}
