/**
 * The members of a scenario's consumer group, each a child process (chaos-member.ts): started, SIGKILLed,
 * SIGSTOPped and continued, stopped with SIGTERM. Their last counter lines are kept and summed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { projectRoot } from '../../../infra/stack/stack-paths.ts';
import type { StackSettings } from '../../../infra/stack/stack-settings.ts';

export interface MemberGroupOptions {
  settings: StackSettings;
  topic: string;
  groupId: string;
  effectsTable: string;
  /** More environment for every member (watermarks, session timeout, ...). */
  env?: Record<string, string>;
}

interface Member {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
  expectedExit: boolean;
}

export class MemberGroup {
  private options: MemberGroupOptions;
  private readonly members: Member[] = [];
  private readonly lastCounters = new Map<string, Record<string, number>>();
  /** Exits nobody asked for (a crash). */
  crashes = 0;
  heapUsedMaxMb = 0;
  prototypeTouched = false;
  private started = 0;

  constructor(options: MemberGroupOptions) {
    this.options = options;
  }

  /** Sets an environment variable for the members started from now on. */
  setEnv(name: string, value: string): void {
    this.options.env = { ...this.options.env, [name]: value };
  }

  get running(): string[] {
    return this.members.map(({ name }) => name);
  }

  start(): string {
    const name = `m${++this.started}`;
    const { settings, topic, groupId, effectsTable, env } = this.options;
    const child = spawn(process.execPath, ['test/chaos/support/chaos-member.ts'], {
      cwd: projectRoot,
      env: { ...process.env, ...settings, TOPIC: topic, GROUP: groupId, EFFECTS_TABLE: effectsTable, MEMBER: name, KAFKAJS_NO_PARTITIONER_WARNING: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as { counters?: Record<string, number>; heapUsedMaxMb?: number; prototypeTouched?: boolean };
        if (parsed.counters) this.lastCounters.set(name, parsed.counters);
        this.heapUsedMaxMb = Math.max(this.heapUsedMaxMb, parsed.heapUsedMaxMb ?? 0);
        if (parsed.prototypeTouched) this.prototypeTouched = true;
      } catch {
        // not a counter line
      }
    });
    // A member's stderr is kept short: the first lines of a crash are what matter.
    let stderrLines = 0;
    createInterface({ input: child.stderr! }).on('line', (line) => {
      if (line.startsWith('TRACE ')) process.stderr.write(`${line}\n`);
      else if (!/TimeoutNegativeWarning|Timeout duration was set|--trace-warnings/.test(line) && stderrLines++ < 20) process.stderr.write(`[${name}] ${line}\n`);
    });
    const member: Member = { name, child, exited: Promise.resolve(), expectedExit: false };
    member.exited = new Promise<void>((resolve) =>
      child.once('exit', () => {
        if (!member.expectedExit) this.crashes++;
        resolve();
      }),
    );
    this.members.push(member);
    return name;
  }

  private take(index: number): Member {
    const member = this.members[index];
    if (!member) throw new Error(`no member at index ${index} (running: ${this.running.join(', ')})`);
    return member;
  }

  /** SIGKILLs the member at `index` (0 = the oldest) and waits until it is gone. */
  async kill(index: number): Promise<string> {
    const member = this.take(index);
    this.members.splice(index, 1);
    member.expectedExit = true;
    member.child.kill('SIGKILL');
    await member.exited;
    return member.name;
  }

  pause(index: number): string {
    const member = this.take(index);
    member.child.kill('SIGSTOP');
    return member.name;
  }

  resume(index: number): string {
    const member = this.take(index);
    member.child.kill('SIGCONT');
    return member.name;
  }

  /** SIGTERM: the member stops cleanly (commits what is completed, leaves the group). */
  async stop(index: number): Promise<string> {
    const member = this.take(index);
    this.members.splice(index, 1);
    member.expectedExit = true;
    member.child.kill('SIGTERM');
    const timer = setTimeout(() => member.child.kill('SIGKILL'), 30_000);
    await member.exited;
    clearTimeout(timer);
    return member.name;
  }

  async stopAll(): Promise<void> {
    while (this.members.length > 0) await this.stop(0);
  }

  /** Kills every member at once (the scenario's finally). */
  killAll(): void {
    for (const member of this.members.splice(0)) {
      member.expectedExit = true;
      member.child.kill('SIGCONT');
      member.child.kill('SIGKILL');
    }
  }

  /** The counters of every member ever started, summed (the last line each printed). */
  counters(): Record<string, number> {
    const total: Record<string, number> = {};
    for (const counters of this.lastCounters.values()) {
      for (const [name, value] of Object.entries(counters)) total[name] = (total[name] ?? 0) + value;
    }
    return total;
  }
}
