/**
 * Limits of the Walrus wire protocol (docs/architecture.md, "The Walrus protocol in brief") and the ones walrus-stream
 * adds on top. All sizes are bytes.
 */

/** Largest frame body a node accepts (`ERR invalid frame length` above it). A frame of exactly this size is fine. */
export const MAX_FRAME_BYTES = 65_536;

/** Bytes of the little-endian u32 length prefix. */
export const FRAME_HEADER_BYTES = 4;

/** Most entries in one BATCH_PUT / BATCH_GET, like Walrus's `MAX_BATCH_ENTRIES`. */
export const MAX_BATCH_ENTRIES = 2_000;

/**
 * Topic names: 1–249 characters from `A-Z a-z 0-9 . _ - :`, not `.` or `..`.
 *
 * Why this set: the server splits commands on ASCII space, so a topic can
 * never hold one; control characters and non-ASCII would make topics that
 * look equal but are not; the embedded node uses the name as a directory
 * name, so `/` and `\` are refused; 249 is Kafka's limit, which users know.
 */
export const MAX_TOPIC_LENGTH = 249;
export const TOPIC_PATTERN = /^[A-Za-z0-9._:-]+$/;

/** Largest payload a PUT to `topic` can carry: the frame minus `PUT <topic> `. */
export function maxPayloadBytes(topic: string): number {
  return MAX_FRAME_BYTES - 5 - Buffer.byteLength(topic);
}
