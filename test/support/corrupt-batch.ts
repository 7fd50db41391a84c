/**
 * A record batch that Kafka's broker accepts and no reader can decode: an LZ4 frame whose content checksum has
 * one bit flipped. The broker validates LZ4 batches on produce but reads past the content checksum without
 * checking it (kafka-clients' Lz4BlockInputStream); a reader that checks it, as this one does, cannot decode it.
 * kafkajs's codec table is process-wide: the corrupting codec is in place only while these records are sent.
 */
import kafkajs from 'kafkajs';
import { compressFrame } from 'lz4-napi';
import { registerCompressionCodecs } from '../../core/compression/register-compression-codecs.ts';
import type { Message } from '../../core/kafka-client.ts';
import { testKafka } from './test-stack.ts';

type CodecTable = Record<number, () => { compress(encoder: { buffer: Buffer }): Promise<Buffer>; decompress(data: Buffer): Promise<Buffer> }>;

export async function produceCorruptLz4Batch(topic: string, partition: number, messages: Message[]): Promise<void> {
  registerCompressionCodecs();
  const table = kafkajs.CompressionCodecs as unknown as CodecTable;
  const lz4 = kafkajs.CompressionTypes.LZ4;
  const sound = table[lz4]!;
  table[lz4] = () => ({
    ...sound(),
    compress: async (encoder) => {
      const frame = Buffer.from(await compressFrame(encoder.buffer, { contentChecksum: true }));
      frame[frame.length - 1]! ^= 0x01;
      return frame;
    },
  });
  const producer = testKafka().producer();
  try {
    await producer.connect();
    await producer.send({ topic, acks: -1, compression: lz4, messages: messages.map((message) => ({ ...message, partition })) });
  } finally {
    table[lz4] = sound;
    await producer.disconnect();
  }
}
