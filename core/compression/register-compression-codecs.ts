/**
 * Teaches kafkajs every codec a Kafka producer may use: GZIP (Node's zlib), Snappy (xerial-framed or raw),
 * LZ4 (frame format) and ZSTD (Node's zlib). kafkajs keeps its codecs in one module-wide table, so this runs
 * once per process, from `createKafkaClient`; every consumer, producer and operator tool of the process reads
 * and writes them all from then on.
 *
 * A batch that still cannot be decoded becomes marker records (see `undecodable-batch.ts`), so the consumer
 * learns its topic, partition and offsets instead of kafkajs failing the whole fetch.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import kafkajs from 'kafkajs';
import { compressionNameOf } from './compression.ts';
import { lz4Compress, lz4Decompress } from './lz4-codec.ts';
import { snappyCompress, snappyDecompress } from './snappy-codec.ts';
import { batchHeaderBefore, markerRecords, recordsAreWellFormed } from './undecodable-batch.ts';
import { decompressChunkBytes, zstdCompress, zstdDecompress } from './zstd-codec.ts';

const { CompressionCodecs, CompressionTypes } = kafkajs;

/**
 * The most one batch may expand to. A producer's batch is bounded by its `batch.size` (16 KiB to 1 MiB in
 * practice) and the broker's `message.max.bytes` compressed; 256 MiB decompressed is far past any real batch
 * and still a bound on what one corrupt or hostile batch can make this process allocate.
 */
export const maxDecompressedBatchBytes = 256 * 1024 * 1024;

interface Codec {
  compress(data: Buffer): Promise<Buffer>;
  decompress(data: Buffer): Promise<Buffer>;
}

const gunzip = promisify(zlib.unzip);
const gzip = promisify(zlib.gzip);

const codecs: Record<number, Codec> = {
  [CompressionTypes.GZIP]: { compress: (data) => gzip(data), decompress: (data) => gunzip(data, { maxOutputLength: maxDecompressedBatchBytes, chunkSize: decompressChunkBytes }) },
  [CompressionTypes.Snappy]: { compress: snappyCompress, decompress: snappyDecompress },
  [CompressionTypes.LZ4]: { compress: lz4Compress, decompress: lz4Decompress },
  [CompressionTypes.ZSTD]: { compress: zstdCompress, decompress: (data) => zstdDecompress(data, maxDecompressedBatchBytes) },
};

/** Codec ids 5 to 7: no Kafka client writes them, and the broker refuses them; a batch carrying one is undecodable. */
const unknownCodecIds = [5, 6, 7];

/** kafkajs's codec interface: `compress` gets its encoder, `decompress` the compressed records. */
interface KafkajsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(data: Buffer): Promise<Buffer>;
}

function kafkajsCodecOf(id: number, codec: Codec | undefined): KafkajsCodec {
  const name = compressionNameOf(id);
  return {
    compress: (encoder) => (codec ? codec.compress(encoder.buffer) : Promise.reject(new Error(`no codec has id ${id}`))),
    decompress: async (data) => {
      const header = batchHeaderBefore(data, id);
      let failure: string;
      try {
        if (!codec) throw new Error(`codec id ${id} is not a Kafka compression codec`);
        const records = await codec.decompress(data);
        // Bytes that decompress but are no records (a payload corrupted in a way the codec cannot see).
        if (header && !recordsAreWellFormed(records, header.recordCount)) throw new Error(`the decompressed ${name} payload does not hold the ${header.recordCount} records its header announces`);
        if (records.length > maxDecompressedBatchBytes) throw new Error(`the batch decompresses to more than ${maxDecompressedBatchBytes} bytes`);
        return records;
      } catch (error) {
        failure = `${name}: ${(error as Error).message ?? String(error)}`;
      }
      // Without a trustworthy header there is nothing to point at: kafkajs fails the fetch, as it would have.
      if (!header) throw new Error(`undecodable record batch (${failure})`);
      return markerRecords(header, name, failure);
    },
  };
}

let registered = false;

/** Registers the codecs with kafkajs (once per process; later calls do nothing). */
export function registerCompressionCodecs(): void {
  if (registered) return;
  registered = true;
  const table = CompressionCodecs as unknown as Record<number, () => KafkajsCodec>;
  for (const [id, codec] of Object.entries(codecs)) {
    const wrapped = kafkajsCodecOf(Number(id), codec);
    table[Number(id)] = () => wrapped;
  }
  for (const id of unknownCodecIds) {
    const wrapped = kafkajsCodecOf(id, undefined);
    table[id] = () => wrapped;
  }
}
