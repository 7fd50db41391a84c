/**
 * The compression a producer may put on its record batches, by the names Kafka's own clients use for
 * `compression.type`. Every name can be read by every Orderly consumer (see `registerCompressionCodecs`).
 */
import kafkajs from 'kafkajs';

const { CompressionTypes } = kafkajs;

/** `compression` of an Orderly producer, as Kafka's `compression.type` names them. */
export const compressionNames = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

export type CompressionName = (typeof compressionNames)[number];

/** The codec id kafkajs writes into a batch's attributes for each name (Kafka's ids: 0 to 4). */
export const compressionIdOf: Record<CompressionName, number> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

/** The name of a codec id read from a batch's attributes (the low 3 bits); ids 5 to 7 are no codec Kafka knows. */
export function compressionNameOf(id: number): CompressionName | `unknown-${number}` {
  const name = compressionNames.find((candidate) => compressionIdOf[candidate] === id);
  return name ?? `unknown-${id}`;
}
