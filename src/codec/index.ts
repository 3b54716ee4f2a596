export { ENVELOPE_MAGIC, ENVELOPE_VERSION, MAX_ENTRY_RECORDS, MAX_TIMESTAMP_MS, maxBatchBytes, entryBytes } from './envelope-format.js';
export { encodeRecords, encodeBatch, recordBound, DEFAULT_COMPRESSION_THRESHOLD, type EncodeOptions, type EncodedEntry } from './envelope-encode.js';
export { decodeEntry, isEnvelope, type DecodeOptions } from './envelope-decode.js';
export { EntryPacker, type PackerOptions } from './entry-packer.js';
export { BatchBuilder, type BatchBuilderOptions, type RatioMemo } from './batch-builder.js';
export { toPlainTextEntry } from './plain-text.js';
export { compress, decompress, assertCodec, MAX_DECOMPRESSED_BYTES, type CompressionCodec } from './compression.js';
export {
  resolveSerializer,
  serializeValue,
  jsonSerializer,
  msgpackSerializer,
  stringSerializer,
  rawSerializer,
  SERIALIZER_NAMES,
  type Serializer,
  type SerializerName,
  type SerializerSpec,
} from './serializers.js';
export { ArrayTooLong, MAX_ENCODED_VALUE_BYTES, assertNoLongArray, valueBoundFor } from './array-bound.js';
export { HEADERS, MAX_HEADERS, assertHeaders } from './headers.js';
export { newRecordId, newRecordIdBytes, recordIdToString, RECORD_ID_BYTES } from './record-id.js';
export type { RecordToEncode, DecodedRecord, WalrusRecord } from './record-types.js';
