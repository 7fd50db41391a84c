/**
 * `node bench/ladder-floor-simulation.ts [draws] [publishMs] [tiersMs]`: the ladder floor of the README's demo
 * run (bench/support/ladder-floor.ts) over many draws of its workload, made by the demo's own generator (20,000
 * events over 500 accounts, 2% transient, 0.1% poison), published evenly over `publishMs` (2,500), with the retry
 * tiers given (default the demo's, `1000,5000`). Pure computation: no stack. Prints the floor's percentiles and
 * the share of draws under 13.2 s, least and typical. Used in bench/RESULTS.md ("Ledger demo throughput").
 */
import { LedgerEventGenerator } from '../examples/ledger/ledger-events.ts';
import { demoRetryTiersMs } from '../examples/ledger/demo-options.ts';
import { ladderFloor, type Estimate, type Ladder, type PublishedFault } from './support/ladder-floor.ts';

const draws = Number(process.argv[2] ?? 300);
const publishMs = Number(process.argv[3] ?? 2_500);
const tiersMs = (process.argv[4] ?? demoRetryTiersMs.join(',')).split(',').map(Number);
const goalSeconds = 13.2;
const ladder: Ladder = { inPlaceRetries: 2, retryBackoffMs: 100, backoffFactor: 5, retryBackoffMaxMs: 5_000, tiersMs, tierJitter: 0.1 };
const events = 20_000;

const floors: Record<Estimate, number[]> = { minimum: [], typical: [] };
for (let draw = 0; draw < draws; draw++) {
  const generator = new LedgerEventGenerator({ keys: 500, failRate: 0.02, poisonRate: 0.001, runId: `draw-${draw}`, accounts: new Map() });
  const published: PublishedFault[] = [];
  for (let index = 0; index < events; index++) {
    const event = generator.next();
    published.push({ account: event.accountId, publishedAtMs: (index / events) * publishMs, fault: event.fault, failures: event.failures });
  }
  for (const estimate of ['minimum', 'typical'] as const) floors[estimate].push(ladderFloor(published, ladder, estimate).floorMs / 1000);
}
for (const [estimate, list] of Object.entries(floors)) {
  list.sort((a, b) => a - b);
  const at = (share: number) => list[Math.floor(share * (list.length - 1))]!.toFixed(1);
  const under = (100 * list.filter((seconds) => seconds < goalSeconds).length) / list.length;
  console.log(`${estimate}: ${draws} draws, published over ${publishMs} ms, tiers ${tiersMs.join(', ')} ms: floor p10 ${at(0.1)} s, p50 ${at(0.5)} s, p90 ${at(0.9)} s, max ${at(1)} s; under ${goalSeconds} s in ${under.toFixed(1)}% of the draws`);
}
