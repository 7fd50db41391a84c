/**
 * Records written by a producer that is not kafkajs: Kafka's own Java client (test/support/java/ForeignProducer.java,
 * run from the broker's Maven jars), each run of records with the compression it names.
 */
import { spawn } from 'node:child_process';

export interface ForeignRecord {
  compression: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
  partition: number;
  key: Buffer | string | null;
  value: Buffer | null;
}

const field = (bytes: Buffer | string | null) => (bytes === null ? '-' : Buffer.from(bytes).toString('base64'));

/**
 * Sends `records` in order through Java producers (one per compression), each run of consecutive records with
 * the same compression as one batch per partition. Resolves with the Java program's output; rejects on a
 * non-zero exit or after `timeoutMs`.
 */
export function produceWithJava(bootstrap: string, topic: string, records: ForeignRecord[], timeoutMs = 90_000): Promise<string> {
  const input = records.map((record) => `${record.compression}\t${record.partition}\t${field(record.key)}\t${field(record.value)}\n`).join('');
  return new Promise((resolve, reject) => {
    const child = spawn('java', ['-cp', 'infra/kafka/target/libs/*', 'test/support/java/ForeignProducer.java', bootstrap, topic], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`ForeignProducer exited with ${code}: ${output.slice(-2_000)}`));
    });
    child.stdin.end(input);
  });
}
