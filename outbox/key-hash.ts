/**
 * The 32-bit hash of an outbox row's topic and key (FNV-1a over `topic`, a zero byte and the key's bytes): the
 * writer's per-key advisory lock and the key's shard. Two keys with one hash only share a lock and a shard.
 */
export function outboxKeyHash(topic: string, key: Buffer): number {
  let hash = 0x811c9dc5;
  const mix = (byte: number) => {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  };
  for (const byte of Buffer.from(topic, 'utf8')) mix(byte);
  mix(0);
  for (const byte of key) mix(byte);
  return hash | 0;
}

/** The shard of a key hash, 0 to `shards` - 1. */
export function outboxShardOf(keyHash: number, shards: number): number {
  return (keyHash >>> 0) % shards;
}
