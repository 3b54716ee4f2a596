import { createHash } from 'node:crypto';

/**
 * Directory name for a topic. The stock node accepts any UTF-8 topic name
 * (even an empty one), so names are mapped rather than used raw: a plain
 * lower-case name is its own directory; anything else (upper case, which
 * collides on case-insensitive file systems, `:`, non-ASCII, path
 * separators, very long names) gets a readable prefix plus a hash of the
 * exact name. The real name is kept in `topic.json` inside the directory.
 */
const PLAIN = /^[a-z0-9][a-z0-9._-]{0,119}$/;

export function topicDirName(topic: string): string {
  if (PLAIN.test(topic)) return topic;
  const readable = topic.toLowerCase().replace(/[^a-z0-9._-]/g, '_').slice(0, 64);
  const hash = createHash('sha256').update(topic, 'utf8').digest('hex').slice(0, 16);
  return `${readable}~${hash}`;
}

/** `00000000000000000001.seg`: zero-padded so names sort like numbers. */
export function segmentFileName(segment: number): string {
  return `${String(segment).padStart(20, '0')}.seg`;
}

export function parseSegmentFileName(name: string): number | undefined {
  const match = /^(\d{20})\.seg$/.exec(name);
  return match ? Number(match[1]) : undefined;
}
