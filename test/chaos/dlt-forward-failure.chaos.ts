// Invariant: with the dead-letter topic gone for 60 s while records that must be dead-lettered arrive, and the (private) broker frozen past the session timeout while commits are in flight, nothing is lost or skipped: each such record's partition waits, uncommitted, until its forward succeeds, and every partition resumes.
import type { StackSettings } from '../../infra/stack/stack-settings.ts';
import { deadLetterTopicOf, ensureTopicLayout } from '../../consumers/retries/topic-layout.ts';
import { ChaosRun, sleep, type ScenarioResult } from './support/chaos-run.ts';
import { PrivateStack } from './support/private-stack.ts';
import { runAsMain } from './support/scenario-main.ts';

export interface DltForwardFailureParameters {
  events: number;
  keys: number;
  partitions: number;
  /** Records that must be dead-lettered (not JSON), published while the DLT is gone. */
  poisonRecords: number;
  dltDownMs: number;
  /**
   * Broker SIGSTOPs, each `freezeMs` (past the 6 s session timeout), to make commits in flight fail; up to
   * {@link extraFreezes} more while no commit has failed yet (whether a commit is refused after a freeze is a race
   * between its request and the coordinator expiring the member: one run of 3 freezes saw none).
   */
  brokerFreezes: number;
  freezeMs: number;
}

/** Freezes past `brokerFreezes` while no commit has failed: the fault this scenario needs, made sure of. */
const extraFreezes = 3;

export const fullDltForwardFailure: DltForwardFailureParameters = { events: 15_000, keys: 1_500, partitions: 12, poisonRecords: 24, dltDownMs: 60_000, brokerFreezes: 3, freezeMs: 10_000 };

export async function dltForwardFailureScenario(shared: StackSettings, parameters: DltForwardFailureParameters = fullDltForwardFailure): Promise<ScenarioResult> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const stack = new PrivateStack(shared);
  let run: ChaosRun | undefined;
  try {
    const settings = await stack.up();
    log(`private stack up in ${stack.dir}: kafka ${settings.KAFKA_BROKERS}`);
    run = new ChaosRun({ settings, partitions: parameters.partitions, memberEnv: { HANDLER_DELAY_MS: '2' } });
    const chaos = run;
    const deadLetterTopic = deadLetterTopicOf(chaos.topic, chaos.groupId);
    await chaos.setUp();
    for (let member = 0; member < 3; member++) chaos.members.start();
    const producing = chaos.produce(parameters.events, parameters.keys, parameters.dltDownMs + (parameters.brokerFreezes + extraFreezes) * (parameters.freezeMs + 10_000) + 10_000, 200);
    await sleep(5_000);

    // 1. The DLT disappears (auto-creation is off, so every forward fails) while poison records arrive.
    await chaos.admin.deleteTopics({ topics: [deadLetterTopic] });
    const dltGoneAt = Date.now();
    const producer = chaos.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const poisonIds: string[] = [];
    for (let index = 0; index < parameters.poisonRecords; index++) {
      const eventId = `poison-${index}`;
      poisonIds.push(eventId);
      // On a live key, so the key's later events wait behind it too.
      await producer.send({ topic: chaos.topic, acks: -1, messages: [{ key: `key-${index}`, value: `not json ${index} {`, headers: { 'orderly-event-id': eventId } }] });
      await sleep((parameters.dltDownMs * 0.5) / parameters.poisonRecords);
    }
    await producer.disconnect();
    await sleep(Math.max(0, dltGoneAt + parameters.dltDownMs - Date.now()));
    const forwardFailuresWhileDown = chaos.members.counters().forwardFailed ?? 0;
    const deadLetteredWhileDown = Object.entries(chaos.members.counters()).filter(([name]) => name.startsWith('deadLettered')).reduce((sum, [, count]) => sum + count, 0);
    await ensureTopicLayout(chaos.admin, { topic: chaos.topic, groupId: chaos.groupId, tierCount: 0, partitions: parameters.partitions });
    log(`DLT gone ${Date.now() - dltGoneAt} ms: ${parameters.poisonRecords} poison records published, ${forwardFailuresWhileDown} forwards failed, ${deadLetteredWhileDown} dead-lettered; recreated`);

    // 2. Commits in flight fail: the broker (also the group coordinator) frozen past the session timeout.
    const commitFailuresSoFar = () => Object.entries(chaos.members.counters()).filter(([name]) => name.startsWith('commitFailed')).length;
    let freezes = 0;
    for (let freeze = 1; ; freeze++) {
      await sleep(10_000); // also lets the members' counters of the last freeze arrive
      if (freeze > parameters.brokerFreezes && (commitFailuresSoFar() > 0 || freeze > parameters.brokerFreezes + extraFreezes)) break;
      freezes = freeze;
      await stack.signal('kafka', 'SIGSTOP');
      await sleep(parameters.freezeMs);
      await stack.signal('kafka', 'SIGCONT');
      log(`freeze ${freeze}/${parameters.brokerFreezes}: broker SIGSTOPped ${parameters.freezeMs} ms; commit failures so far ${JSON.stringify(Object.entries(chaos.members.counters()).filter(([name]) => name.startsWith('commitFailed')))}`);
    }
    await producing;
    const result = await chaos.finish(
      'dlt-forward-failure',
      'the DLT gone 60 s and the broker frozen under commits: nothing lost or skipped, partitions wait then resume',
      { dltDownMs: parameters.dltDownMs, poisonRecords: parameters.poisonRecords, brokerFreezes: freezes },
      { forwardFailuresWhileDown, deadLetteredWhileDown },
    );
    const deadLettered = await chaos.deadLettered();
    const poisonInDlt = deadLettered.filter(({ eventId }) => eventId?.startsWith('poison-'));
    const missing = poisonIds.filter((id) => !poisonInDlt.some(({ eventId }) => eventId === id));
    const commitFailures = Object.entries(result.details.memberCounters as Record<string, number>).filter(([name]) => name.startsWith('commitFailed')).reduce((sum, [, count]) => sum + count, 0);
    result.details = { ...result.details, poisonInDlt: poisonInDlt.length, poisonMissingFromDlt: missing.length, commitFailures };
    // The poison records were not in `expected`: each must be in the DLT (none skipped), and none before the DLT came back.
    result.passed &&= missing.length === 0 && deadLetteredWhileDown === 0 && forwardFailuresWhileDown > 0 && commitFailures > 0;
    return result;
  } finally {
    await run?.tearDown();
    await stack.down();
  }
}

await runAsMain(import.meta, (settings) => dltForwardFailureScenario(settings));
