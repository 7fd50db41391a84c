/**
 * `orderly keys parked | release`: the keys parked for a consumer group (DESIGN.md, "Key parking"), from the
 * durable parking store in Redis. Releasing changes what the consumer does, so it needs `--confirm`.
 */
import type { Command } from 'commander';
import { OrderlyError } from '../../core/errors.ts';
import { RedisParkingStore } from '../../consumers/retries/redis-parking-store.ts';
import { releaseParkedKey } from '../../operations/parked-key-release.ts';
import { groupId, topicName } from '../support/option-parsers.ts';
import { withRedis } from '../support/settings.ts';
import { formatTable } from '../support/table.ts';

export function registerKeysCommand(program: Command): void {
  const keys = program.command('keys').description('list and release the keys parked for a consumer group');

  keys
    .command('parked')
    .description('list parked keys: key, topic, partition, queue length, head tier, held, parked since')
    .requiredOption('--group <group>', 'the consumer group', groupId)
    .option('--topic <topic>', 'only this source topic', topicName)
    .option('--json', 'print JSON (one array) instead of a table', false)
    .option('--redis <url>', 'Redis URL (default: REDIS_URL or the local stack)')
    .action(async (options: { group: string; topic?: string; json: boolean; redis?: string }) => {
      const entries = await withRedis(options.redis, (redis) => new RedisParkingStore({ redis, groupId: options.group }).list(options.topic));
      if (options.json) {
        console.log(JSON.stringify(entries.map(({ topic, partition, key, state }) => ({ key, topic, partition, queueLength: state.queue.length, headTier: state.headTier, held: state.held, parkedAt: new Date(state.parkedAt).toISOString(), replayPending: (state.replaying?.length ?? 0) > 0 })), null, 2));
        return;
      }
      if (entries.length === 0) {
        console.log(`no parked keys for group ${options.group}${options.topic ? ` on ${options.topic}` : ''}`);
        return;
      }
      const rows = entries.map(({ topic, partition, key, state }) => [key, topic, String(partition), String(state.queue.length), String(state.headTier), state.held ? 'yes' : 'no', new Date(state.parkedAt).toISOString()]);
      console.log(formatTable(['KEY', 'TOPIC', 'PARTITION', 'QUEUE', 'HEAD TIER', 'HELD', 'PARKED SINCE'], rows));
      const pending = entries.filter((entry) => (entry.state.replaying?.length ?? 0) > 0).length;
      if (pending > 0) console.log(`${pending} key(s) have a lane replay not confirmed yet (running, or crashed before producing: run the same \`orderly dlt replay\` again to finish it)`);
      const held = entries.filter((entry) => entry.state.held).length;
      console.log(`${entries.length} parked key(s), ${held} held (release one with \`orderly keys release <key> --topic <topic> --group ${options.group} --confirm\`)`);
    });

  keys
    .command('release')
    .description("release a held key: its later events are handled again (a key with nothing queued is unparked); dry run unless --confirm")
    .argument('<key>', 'the key')
    .requiredOption('--topic <topic>', 'the source topic', topicName)
    .requiredOption('--group <group>', 'the consumer group', groupId)
    .option('--confirm', 'release it (without: say what would change)', false)
    .option('--redis <url>', 'Redis URL (default: REDIS_URL or the local stack)')
    .action(async (key: string, options: { topic: string; group: string; confirm: boolean; redis?: string }) => {
      await withRedis(options.redis, async (redis) => {
        const store = new RedisParkingStore({ redis, groupId: options.group });
        const entries = (await store.list(options.topic)).filter((entry) => entry.key === key);
        if (entries.length === 0) {
          throw new OrderlyError('CONFIGURATION', `key "${key}" is not parked for topic ${options.topic} and group ${options.group}: see \`orderly keys parked --group ${options.group}\``);
        }
        for (const { partition, state } of entries) {
          const where = `${key} (${options.topic} p${partition})`;
          if (!state.held) {
            console.log(`${where} is parked but not held (${state.queue.length} queued behind a head on tier ${state.headTier}): nothing to release; it resumes when its head completes`);
            continue;
          }
          const change = state.queue.length === 0 ? 'unpark it (nothing queued)' : `un-hold it (${state.queue.length} queued event(s) are handled in order)`;
          if (!options.confirm) {
            console.log(`would ${change}: ${where}; run again with --confirm`);
            continue;
          }
          // One atomic change of the state as it is now: a consumer writing the key meanwhile is never overwritten.
          const released = await releaseParkedKey(store, options.topic, partition, key);
          if (released.status === 'released') console.log(`released ${where}: ${released.queued === 0 ? 'unparked' : `${released.queued} queued event(s) go on in order`}`);
          else console.log(`${where} ${released.status === 'not-parked' ? 'is no longer parked' : 'is no longer held'}: nothing to release`);
        }
      });
    });
}
