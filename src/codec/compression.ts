import { brotliCompressSync, brotliDecompressSync, constants, gunzipSync, gzipSync } from 'node:zlib';
import { WalrusError } from '../errors/index.js';

/** Compression codecs for record batches. */
export type CompressionCodec = 'none' | 'gzip' | 'brotli';

/** Flag values stored in the envelope's `c` field. */
export const COMPRESSION_FLAGS = { gzip: 'gzip', brotli: 'br' } as const;
export type CompressionFlag = (typeof COMPRESSION_FLAGS)[keyof typeof COMPRESSION_FLAGS];

/**
 * Largest decompressed batch we accept. A compressed entry is at most 64 KiB;
 * real batches expand 3–20×, so 32 MiB only refuses decompression bombs.
 */
export const MAX_DECOMPRESSED_BYTES = 32 * 1024 * 1024;

/**
 * Brotli's default quality (11) compresses ~100× slower than gzip for a few
 * percent better ratio; quality 5 is the usual streaming trade-off (what
 * Kafka-style clients and CDNs pick for on-the-fly compression).
 */
const BROTLI_OPTIONS = {
  params: {
    [constants.BROTLI_PARAM_QUALITY]: 5,
    [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_GENERIC,
  },
};

export function compress(codec: 'gzip' | 'brotli', bytes: Uint8Array): Buffer {
  try {
    return codec === 'gzip' ? gzipSync(bytes) : brotliCompressSync(bytes, BROTLI_OPTIONS);
  } catch (cause) {
    throw new WalrusError('COMPRESSION_ERROR', `${codec} compression failed: ${(cause as Error).message}.`, { cause });
  }
}

export function decompress(flag: string, bytes: Uint8Array): Buffer {
  try {
    if (flag === COMPRESSION_FLAGS.gzip) return gunzipSync(bytes, { maxOutputLength: MAX_DECOMPRESSED_BYTES });
    if (flag === COMPRESSION_FLAGS.brotli) return brotliDecompressSync(bytes, { maxOutputLength: MAX_DECOMPRESSED_BYTES });
  } catch (cause) {
    throw new WalrusError('COMPRESSION_ERROR', `Could not decompress a ${flag} record batch: ${(cause as Error).message}.`, { cause });
  }
  throw new WalrusError('COMPRESSION_ERROR', `Unknown compression flag ${JSON.stringify(flag)} in a record batch (known: gzip, br).`);
}

export function flagFor(codec: 'gzip' | 'brotli'): CompressionFlag {
  return codec === 'gzip' ? COMPRESSION_FLAGS.gzip : COMPRESSION_FLAGS.brotli;
}

/** Throws CONFIG_INVALID unless `codec` is a known codec name. */
export function assertCodec(codec: unknown): asserts codec is CompressionCodec {
  if (codec !== 'none' && codec !== 'gzip' && codec !== 'brotli') {
    throw new WalrusError('CONFIG_INVALID', `Unknown compression ${JSON.stringify(codec)}: use none, gzip or brotli.`);
  }
}
