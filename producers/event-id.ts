/**
 * UUIDv7 event ids (RFC 9562), monotonic within a process, like `uuid`'s own `v7()`, but with random bytes
 * drawn from a pooled buffer: `v7()` asks the OS for 16 bytes per id, which took 11% of the producer's CPU
 * in `bench/producer-throughput.ts` (node --cpu-prof).
 */
import { randomFillSync } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

const poolSize = 16 * 256;
const pool = Buffer.alloc(poolSize);
let poolOffset = poolSize;
const state = { msecs: -Infinity, seq: 0 };

function randomBytes16(): Buffer {
  if (poolOffset + 16 > poolSize) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const bytes = pool.subarray(poolOffset, poolOffset + 16);
  poolOffset += 16;
  return bytes;
}

/** A new UUIDv7: 48-bit Unix milliseconds, then a 31-bit counter seeded randomly each millisecond, then random bits. */
export function newEventId(now: number = Date.now()): string {
  const random = randomBytes16();
  if (now > state.msecs) {
    state.msecs = now;
    state.seq = random.readUInt32BE(6) & 0x7fffffff;
  } else {
    state.seq = (state.seq + 1) | 0;
    if (state.seq === 0) state.msecs += 1;
  }
  return uuidv7({ random, msecs: state.msecs, seq: state.seq });
}
