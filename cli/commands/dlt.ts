/**
 * `orderly dlt list | replay | purge`: the dead-letter topic `<topic>.<group>.dlt` of one source topic and
 * consumer group. `replay` and `purge` change things, so they are dry runs unless `--confirm <count>` names the
 * exact number of records they would touch.
 */
import type { Command } from 'commander';
import { OrderlyError } from '../../core/errors.ts';
import type { Kafka } from '../../core/kafka-client.ts';
import { matchesDltFilter, validateDltFilter, type DltFilter } from '../../operations/dlt-filter.ts';
import { DltPayloadDecoder } from '../../operations/dlt-payload-decoder.ts';
import { planDltPurge, DltPurger } from '../../operations/dlt-purger.ts';
import { DltRateLimiter } from '../../operations/dlt-rate-limiter.ts';
import { DltReader } from '../../operations/dlt-reader.ts';
import type { DltRecord } from '../../operations/dlt-record.ts';
import { DltReplayStore } from '../../operations/dlt-replay-store.ts';
import { DltReplayer } from '../../operations/dlt-replayer.ts';
import { checkReplayDestinations, prepareDltReplay, replayedItemsOf } from '../../operations/dlt-replay-preparation.ts';
import { RedisIdempotencyStore } from '../../consumers/idempotency/redis-idempotency-store.ts';
import { RedisParkingStore } from '../../consumers/retries/redis-parking-store.ts';
import { deadLetterTopicOf } from '../../consumers/retries/topic-layout.ts';
import { SchemaRegistryClient } from '../../schemas/schema-registry-client.ts';
import { dltRecordJson, dltRecordText, shownKey, shownText, type ShownDltRecord } from '../support/dlt-format.ts';
import { groupId, positiveInteger, nonNegativeInteger, ratePerSecond, timePoint, topicName } from '../support/option-parsers.ts';
import { ProgressBar } from '../support/progress-bar.ts';
import { terminalSafe, terminalSafeJson } from '../support/terminal-text.ts';
import { cliKafka, optionalSetting, withAdmin, withRedis } from '../support/settings.ts';

interface SelectionOptions {
  topic: string;
  group: string;
  key?: string;
  reason?: string;
  errorType?: string;
  since?: number;
  until?: number;
  limit?: number;
  brokers?: string;
  redis?: string;
}

function withSelectionOptions(command: Command): Command {
  return command
    .requiredOption('--topic <topic>', 'the source topic', topicName)
    .requiredOption('--group <group>', 'the consumer group (the DLT is <topic>.<group>.dlt)', groupId)
    .option('--key <key>', 'only records of this key')
    .option('--reason <reason>', 'only this reason code (retries-exhausted, non-retryable, decode-error, ...)')
    .option('--error-type <type>', 'only this error type (an error code such as NON_RETRYABLE, or a name such as TypeError)')
    .option('--since <time>', 'dead-lettered at or after: ISO date, epoch ms, or a time ago (30m, 2h, 7d)', timePoint('--since'))
    .option('--until <time>', 'dead-lettered before: ISO date, epoch ms, or a time ago', timePoint('--until'))
    .option('--limit <count>', 'at most this many records (the first ones by partition and offset)', positiveInteger('--limit'))
    .option('--brokers <list>', 'bootstrap brokers host:port,... (default: KAFKA_BROKERS or the local stack)')
    .option('--redis <url>', 'Redis URL (default: REDIS_URL or the local stack)');
}

function filterOf(options: SelectionOptions): DltFilter {
  return validateDltFilter({ key: options.key, reason: options.reason, errorType: options.errorType, since: options.since, until: options.until });
}

/** Reads the DLT and keeps what the filters select. */
async function select(kafka: Kafka, options: SelectionOptions) {
  const filter = filterOf(options);
  const dltTopic = deadLetterTopicOf(options.topic, options.group);
  return withAdmin(kafka, async (admin) => {
    let total = 0;
    const { records, watermarks } = await new DltReader({ kafka, admin }).readAll(dltTopic, (record) => (total++, matchesDltFilter(record, filter)), options.limit);
    return { dltTopic, records, watermarks, total };
  });
}

function requireConfirm(given: number | undefined, selected: number, what: string): boolean {
  if (given === undefined) return false;
  if (given !== selected) {
    throw new OrderlyError('CONFIGURATION', `--confirm ${given} does not match the ${selected} record(s) that would be ${what}: nothing was changed. Check the list above and pass --confirm ${selected}`);
  }
  return true;
}

export function registerDltCommand(program: Command): void {
  const dlt = program.command('dlt').description('list, replay and purge the dead-letter topic of a source topic and consumer group');

  withSelectionOptions(dlt.command('list').description('show dead-lettered records: where, key, event id, reason, error, attempts, time and the decoded payload'))
    .option('--json', 'print one JSON array (payloads in full)', false)
    .option('--registry <url>', 'schema registry URL to decode Avro payloads (default: SCHEMA_REGISTRY_URL or the local stack)')
    .action(async (options: SelectionOptions & { json: boolean; registry?: string }) => {
      const { dltTopic, records, total } = await select(cliKafka(options.brokers), options);
      const registryUrl = optionalSetting('SCHEMA_REGISTRY_URL', options.registry);
      const decoder = new DltPayloadDecoder({ registry: registryUrl ? new SchemaRegistryClient({ url: registryUrl }) : undefined });
      let counts: Map<DltRecord, number> | undefined;
      if (optionalSetting('REDIS_URL', options.redis)) {
        counts = await withRedis(options.redis, (redis) => new DltReplayStore({ redis, groupId: options.group }).replaysOf(records)).catch((error: unknown) => {
          console.error(`orderly: replay counts unavailable (${(error as Error).message}); listing without them`);
          return undefined;
        });
      }
      const shown: ShownDltRecord[] = [];
      for (const record of records) {
        shown.push({ record, payload: await decoder.decode(record.value), replays: counts ? (counts.get(record) ?? 0) : undefined });
      }
      if (options.json) {
        console.log(terminalSafeJson(shown.map(dltRecordJson)));
        return;
      }
      for (const item of shown) console.log(`${dltRecordText(item)}\n`);
      console.log(`${shown.length} record(s) shown of ${total} in ${dltTopic}`);
    });

  withSelectionOptions(dlt.command('replay').description('send selected records back (to the source, or into a parked key\'s lane); dry run unless --confirm <count>'))
    .option('--confirm <count>', 'replay; must equal the number of records selected', nonNegativeInteger('--confirm'))
    .option('--rate <perSecond>', 'records per second at most, or "unlimited"', ratePerSecond, 100)
    .option('--max-replays <count>', 'refuse a record already replayed this many times', positiveInteger('--max-replays'), 3)
    .option('--include-replayed', 'also replay records replayed before (a handled event stays done: a no-op for it)', false)
    .option('--allow-repartitioned', "replay even though the source's partition count differs from the DLT's (records keep their partition, where their key may no longer hash: per-key order can break)", false)
    .action(async (options: SelectionOptions & { confirm?: number; rate: number; maxReplays: number; includeReplayed: boolean; allowRepartitioned: boolean }) => {
      const kafka = cliKafka(options.brokers);
      const { dltTopic, records } = await select(kafka, options);
      await withRedis(options.redis, async (redis) => {
        const parkingStore = new RedisParkingStore({ redis, groupId: options.group });
        const replayStore = new DltReplayStore({ redis, groupId: options.group });
        const plan = await prepareDltReplay(records, {
          sourceTopic: options.topic,
          groupId: options.group,
          maxReplays: options.maxReplays,
          includeReplayed: options.includeReplayed,
          parkingStore,
          replayStore,
        });
        const selected = replayedItemsOf(plan);
        const willReplay = options.confirm === selected.length ? 'replay' : 'would replay';
        for (const item of plan) {
          const label = { source: willReplay, lane: willReplay, refused: 'REFUSED', skipped: 'skip' }[item.action];
          console.log(`${label.padEnd(12)} p${item.record.partition}@${item.record.offset} key=${shownKey(item.record)} event=${shownText(item.eventId, '?')} reason=${shownText(item.record.reason, '?')} -> ${shownText(item.destination, '?')}`);
        }
        const warnings = await withAdmin(kafka, (admin) => checkReplayDestinations(admin, selected, { sourceTopic: options.topic, groupId: options.group, dltTopic, allowRepartitioned: options.allowRepartitioned }));
        for (const warning of warnings) console.error(`warning: ${warning}; replaying anyway (--allow-repartitioned)`);
        const confirmed = requireConfirm(options.confirm, selected.length, 'replayed');
        const count = (action: string) => plan.filter((item) => item.action === action).length;
        const summary = `${selected.length} record(s) selected of ${records.length} matching in ${dltTopic}: ${count('source')} to the source topic, ${count('lane')} into parked keys' lanes; ${count('refused')} refused, ${count('skipped')} skipped`;
        if (!confirmed) {
          console.log(`${summary}\ndry run: nothing was changed.${selected.length > 0 ? ` To replay, run again with --confirm ${selected.length}` : ''}`);
          return;
        }
        const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
        await producer.connect();
        const progress = new ProgressBar({ total: selected.length, label: 'replaying' });
        try {
          const replayer = new DltReplayer({
            producer,
            parkingStore,
            replayStore,
            idempotencyStore: new RedisIdempotencyStore({ redis, groupId: options.group }),
            sourceTopic: options.topic,
            groupId: options.group,
            limiter: new DltRateLimiter({ ratePerSecond: options.rate }),
          });
          let replayedSoFar = 0;
          const result = await replayer.replay(plan, (done) => progress.update((replayedSoFar = done))).catch((error: unknown) => {
            progress.finish();
            const reason = error instanceof Error ? error.message : String(error);
            throw new OrderlyError('KAFKA', `replay stopped after ${replayedSoFar} of ${selected.length} record(s): ${terminalSafe(reason)}. The ones replayed are counted and skipped next time: run the replay again (a dry run first, the count to confirm is smaller) to replay the rest`, { cause: error });
          });
          progress.finish();
          console.log(`${summary}\nreplayed ${result.toSource + result.intoLanes}: ${result.toSource} to ${options.topic}, ${result.intoLanes} into parked keys' lanes`);
        } finally {
          await producer.disconnect();
        }
      });
    });

  dlt
    .command('purge')
    .description('delete replayed records: per partition, the longest prefix of records that were all replayed; dry run unless --confirm <count>')
    .requiredOption('--topic <topic>', 'the source topic', topicName)
    .requiredOption('--group <group>', 'the consumer group', groupId)
    .option('--confirm <count>', 'delete; must equal the number of records that would be deleted', nonNegativeInteger('--confirm'))
    .option('--brokers <list>', 'bootstrap brokers host:port,... (default: KAFKA_BROKERS or the local stack)')
    .option('--redis <url>', 'Redis URL (default: REDIS_URL or the local stack)')
    .action(async (options: SelectionOptions & { confirm?: number }) => {
      const kafka = cliKafka(options.brokers);
      const { dltTopic, records, watermarks } = await select(kafka, options);
      await withRedis(options.redis, async (redis) => {
        const replayStore = new DltReplayStore({ redis, groupId: options.group });
        const replays = await replayStore.replaysOf(records);
        const plans = planDltPurge(records, watermarks, (record) => (replays.get(record) ?? 0) > 0);
        const deletable = plans.reduce((total, plan) => total + plan.purged.length, 0);
        for (const plan of plans) console.log(describePurge(plan, options.confirm === deletable));
        const confirmed = requireConfirm(options.confirm, deletable, 'deleted');
        if (!confirmed) {
          console.log(`${deletable} replayed record(s) of ${records.length} in ${dltTopic} would be deleted; dry run: nothing was changed.${deletable > 0 ? ` To delete them, run again with --confirm ${deletable}` : ''}`);
          return;
        }
        const deleted = await withAdmin(kafka, async (admin) => {
          const purger = new DltPurger({ admin, replayStore });
          const purgedCount = await purger.purge(dltTopic, plans);
          await purger.forgetStale(dltTopic, records, watermarks);
          return purgedCount;
        });
        console.log(`deleted ${deleted} replayed record(s) from ${dltTopic}; ${records.length - deleted} stay`);
      });
    });
}

function describePurge(plan: ReturnType<typeof planDltPurge>[number], confirmed: boolean): string {
  const verb = confirmed ? 'delete' : 'would delete';
  const purged = plan.purged.length === 0 ? 'nothing to delete' : `${verb} offsets ${plan.purged[0]!.offset}..${plan.purged.at(-1)!.offset} (${plan.purged.length} replayed record(s))`;
  if (!plan.blockedBy) return `p${plan.partition}: ${purged}${plan.purged.length === 0 ? ' (empty)' : ''}`;
  const blocker: DltRecord = plan.blockedBy;
  return `p${plan.partition}: ${purged}; ${plan.kept} record(s) stay: offset ${blocker.offset} (key ${shownKey(blocker)}, ${shownText(blocker.reason, '?')}) was not replayed, and Kafka deletes only a prefix of a partition`;
}
