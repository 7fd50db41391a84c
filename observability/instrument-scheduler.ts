/**
 * Turns the events of a {@link CronScheduler} into metrics: ticks published (live or catch-up), their
 * lateness (commit time - slot), skipped slots, leader changes, fenced and failed publishes, and a gauge that
 * is 1 while the instance leads. Subscribes to `scheduler.events` only.
 */
import type { SchedulerEventEmitter, SchedulerEvents } from '../scheduling/scheduler-events.ts';
import { sharedOrderlyMetrics, type OrderlyMetrics } from './metrics.ts';

export interface InstrumentSchedulerOptions {
  /** Where to count. @defaultValue {@link sharedOrderlyMetrics} */
  metrics?: OrderlyMetrics;
}

/** Starts counting; returns the function that stops it (and removes the leader gauge). */
export function instrumentScheduler(scheduler: { readonly events: SchedulerEventEmitter }, options: InstrumentSchedulerOptions = {}): () => void {
  const metrics = options.metrics ?? sharedOrderlyMetrics();
  const led = new Set<string>();
  const listeners: { [K in keyof SchedulerEvents]: (...args: SchedulerEvents[K]) => void } = {
    'scheduler.tick.published': ({ schedule, mode, latenessMs }) => {
      metrics.cronTicksPublished.inc({ schedule, mode });
      metrics.cronTickLateness.observe({ schedule, mode }, Math.max(0, latenessMs) / 1_000);
    },
    'scheduler.slots.skipped': ({ schedule, count }) => metrics.cronSlotsSkipped.inc({ schedule }, count),
    'scheduler.leadership.changed': ({ schedule, leading, instance }) => {
      if (leading) metrics.cronLeaderChanges.inc({ schedule });
      metrics.cronLeader.set({ schedule, instance }, leading ? 1 : 0);
      led.add(`${schedule}\u0000${instance}`);
    },
    'scheduler.publish.fenced': ({ schedule }) => metrics.cronPublishFenced.inc({ schedule }),
    'scheduler.publish.failed': ({ schedule }) => metrics.cronPublishFailures.inc({ schedule }),
  };
  for (const [name, listener] of Object.entries(listeners)) scheduler.events.on(name as keyof SchedulerEvents, listener as never);
  return () => {
    for (const [name, listener] of Object.entries(listeners)) scheduler.events.off(name as keyof SchedulerEvents, listener as never);
    for (const key of led) {
      const [schedule, instance] = key.split('\u0000') as [string, string];
      metrics.cronLeader.remove({ schedule, instance });
    }
  };
}
