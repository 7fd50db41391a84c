/**
 * `stack.json`: what `stack up` remembers between runs (the pids of the processes it started, and their
 * ports). Written atomically (a temporary file in the same folder, flushed, then renamed over the old one),
 * so a kill, a full disk or a concurrent reader never meets a half-written file.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { OrderlyError } from '../../core/errors.ts';

/** One node of a multi-node Kafka cluster (`stack up --brokers 3`): node ids 1..n, folder `kafka-<nodeId>`. */
export interface KafkaNodeState {
  nodeId: number;
  pid?: number;
  port: number;
  controllerPort: number;
}

export interface StackState {
  /** The single Kafka node of a one-node stack (the default). */
  kafka?: { pid?: number; port: number; controllerPort: number; saslPort?: number };
  /** The nodes of a multi-node stack, all formatted with `clusterId`; never set together with `kafka`. */
  kafkaCluster?: { clusterId: string; nodes: KafkaNodeState[] };
  redis?: { pid?: number; port: number };
  registry?: { pid?: number; port: number };
}

export function stackStateFile(stackDir: string): string {
  return join(stackDir, 'stack.json');
}

/** The state, or `{}` when the stack never ran. A file that does not parse is an error that says what to do. */
export function readStackState(stackDir: string): StackState {
  const file = stackStateFile(stackDir);
  if (!existsSync(file)) return {};
  const text = readFileSync(file, 'utf8');
  try {
    return JSON.parse(text) as StackState;
  } catch (error) {
    throw new OrderlyError(
      'CONFIGURATION',
      `${file} is not valid JSON (${(error as Error).message}): stop any stack process by hand (\`ps\`), then delete ${file} and run \`orderly stack up\` again`,
    );
  }
}

/** Replaces the state in one step: readers see the old file or the new one, never a part of either. */
export function writeStackState(stackDir: string, state: StackState): void {
  writeFileAtomically(stackStateFile(stackDir), `${JSON.stringify(state, null, 2)}\n`);
}

/** Writes `text` to a temporary file next to `file`, flushes it to disk, and renames it over `file`. */
export function writeFileAtomically(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    const fd = openSync(temporary, 'w', 0o644);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}
