import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Salted scrypt password hashes, encoded as one text token:
 * `scrypt$<N>$<r>$<p>$<salt base64>$<hash base64>`.
 *
 * Why scrypt: it is in node:crypto (no native dependency), memory-hard, and
 * its cost parameters travel with each hash, so they can be raised later
 * without invalidating existing users. Always the asynchronous form: a
 * verification costs tens of milliseconds of CPU and must run on the libuv
 * pool, not on the node's event loop that serves every other connection.
 */

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
}

/** ~16 MiB and a few tens of ms per hash on a current core: slow for guessing, fine for a login per connection. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 16_384, r: 8, p: 1 };

const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Bounds on parameters read from a file, so a tampered hash cannot make a login allocate gigabytes. */
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;

export interface ParsedHash {
  params: ScryptParams;
  salt: Buffer;
  hash: Buffer;
}

function derive(password: string, salt: Buffer, params: ScryptParams, length: number): Promise<Buffer> {
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + (1 << 20) };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, length, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** Hashes `password` with a fresh random salt. */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, params, KEY_BYTES);
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Parses an encoded hash; returns a reason instead when it is not one this node accepts. */
export function parseHash(encoded: string): ParsedHash | { error: string } {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return { error: 'expected scrypt$N$r$p$salt$hash' };
  const [N, r, p] = parts.slice(1, 4).map((x) => (/^\d{1,8}$/.test(x!) ? Number(x) : NaN)) as [number, number, number];
  if (!(N >= 2 && N <= MAX_N && (N & (N - 1)) === 0)) return { error: `N must be a power of two from 2 to ${MAX_N}` };
  if (!(r >= 1 && r <= MAX_R)) return { error: `r must be 1..${MAX_R}` };
  if (!(p >= 1 && p <= MAX_P)) return { error: `p must be 1..${MAX_P}` };
  const salt = Buffer.from(parts[4]!, 'base64');
  const hash = Buffer.from(parts[5]!, 'base64');
  if (salt.length < 8) return { error: 'the salt must be at least 8 bytes' };
  if (hash.length < 16 || hash.length > 128) return { error: 'the hash must be 16..128 bytes' };
  return { params: { N, r, p }, salt, hash };
}

/**
 * True when `password` matches. The comparison is constant-time; the
 * derivation always runs in full, so a wrong password and a right one take
 * the same time.
 */
export async function verifyPassword(password: string, parsed: ParsedHash): Promise<boolean> {
  const candidate = await derive(password, parsed.salt, parsed.params, parsed.hash.length);
  return timingSafeEqual(candidate, parsed.hash);
}

let dummy: ParsedHash | undefined;

/**
 * A hash no password matches, with the default cost: verified against for
 * unknown user names so that "no such user" takes as long as "wrong
 * password" and user names cannot be probed by timing.
 */
export function dummyHash(): ParsedHash {
  dummy ??= { params: DEFAULT_SCRYPT, salt: randomBytes(SALT_BYTES), hash: randomBytes(KEY_BYTES) };
  return dummy;
}
