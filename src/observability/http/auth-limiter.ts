import { isIPv6 } from 'node:net';

/** Options of {@link AuthLimiter} (`startObservabilityServer({ authLimits })`). */
export interface AuthLimitOptions {
  /** Wrong credentials from one address within `windowMs` that lock it out. @default 10 */
  maxFailures?: number;
  /** The window failures are counted in. @default 60000 */
  windowMs?: number;
  /** The first lockout; each further one doubles it. @default 60000 */
  lockoutMs?: number;
  /** The longest lockout. @default 900000 (15 minutes) */
  maxLockoutMs?: number;
  /** Addresses remembered at once; past it the least recently seen is forgotten. @default 10000 */
  maxAddresses?: number;
  now?: () => number;
}

interface Entry {
  /** Failures in the current window, and when it started. */
  failures: number;
  windowStart: number;
  /** Lockouts so far: the next one lasts `lockoutMs * 2^strikes`. */
  strikes: number;
  lockedUntil: number;
  lastFailure: number;
}

/** A refusal: how long to wait, and why. */
export interface Lockout { retryAfterSeconds: number; reason: string }

/**
 * Limits guessing of the HTTP credentials (/metrics, /readyz, the
 * dashboard). Without it a client could try passwords as fast as the server
 * answered (thousands a second on loopback). After `maxFailures` wrong
 * credentials from one address within `windowMs`, that address is locked
 * out for `lockoutMs`, doubling with each lockout up to `maxLockoutMs`:
 * while locked, its requests are answered 429 before the credentials are
 * looked at, so a right guess during a lockout does not tell. Other
 * addresses are not affected; a success forgets the address's failures.
 *
 * IPv6 addresses count per /64 (one host usually owns a whole /64); IPv4
 * per address. The table is bounded (`maxAddresses`): many or spoofed
 * addresses evict the least recently seen, they cannot grow memory.
 */
export class AuthLimiter {
  readonly #entries = new Map<string, Entry>();
  readonly #maxFailures: number;
  readonly #windowMs: number;
  readonly #lockoutMs: number;
  readonly #maxLockoutMs: number;
  readonly #maxAddresses: number;
  readonly #now: () => number;

  constructor(options: AuthLimitOptions = {}) {
    this.#maxFailures = positive('maxFailures', options.maxFailures ?? 10);
    this.#windowMs = positive('windowMs', options.windowMs ?? 60_000);
    this.#lockoutMs = positive('lockoutMs', options.lockoutMs ?? 60_000);
    this.#maxLockoutMs = Math.max(this.#lockoutMs, positive('maxLockoutMs', options.maxLockoutMs ?? 900_000));
    this.#maxAddresses = positive('maxAddresses', options.maxAddresses ?? 10_000);
    this.#now = options.now ?? Date.now;
  }

  /** Addresses remembered now (at most `maxAddresses`). */
  get size(): number {
    return this.#entries.size;
  }

  /** The lockout of `address` now, or undefined when its credentials may be checked. */
  lockout(address: string | undefined): Lockout | undefined {
    const entry = this.#entries.get(keyOf(address));
    const now = this.#now();
    if (entry === undefined || entry.lockedUntil <= now) return undefined;
    const retryAfterSeconds = Math.max(1, Math.ceil((entry.lockedUntil - now) / 1000));
    return {
      retryAfterSeconds,
      reason: `too many wrong credentials from ${address ?? 'this address'} (${this.#maxFailures} within ${seconds(this.#windowMs)}): ` +
        `locked out for ${retryAfterSeconds} s more, credentials are not checked until then; each further lockout doubles (up to ${seconds(this.#maxLockoutMs)})`,
    };
  }

  /** Counts wrong credentials from `address`; returns its lockout when this failure starts one. */
  failed(address: string | undefined): Lockout | undefined {
    const key = keyOf(address);
    const now = this.#now();
    let entry = this.#entries.get(key);
    // A long quiet address starts afresh: its strikes are forgotten once the longest lockout has passed twice.
    if (entry !== undefined && now - entry.lastFailure > 2 * this.#maxLockoutMs) entry = undefined;
    entry ??= { failures: 0, windowStart: now, strikes: 0, lockedUntil: 0, lastFailure: now };
    if (now - entry.windowStart >= this.#windowMs) { entry.failures = 0; entry.windowStart = now; }
    entry.failures += 1;
    entry.lastFailure = now;
    if (entry.failures >= this.#maxFailures) {
      entry.lockedUntil = now + Math.min(this.#lockoutMs * 2 ** entry.strikes, this.#maxLockoutMs);
      entry.strikes += 1;
      entry.failures = 0;
      entry.windowStart = now;
    }
    // Re-inserted: the Map's order is then least recently failed first, which is what is evicted.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    while (this.#entries.size > this.#maxAddresses) this.#entries.delete(this.#entries.keys().next().value as string);
    return this.lockout(address);
  }

  /** Right credentials from `address`: its failures are forgotten. */
  succeeded(address: string | undefined): void {
    this.#entries.delete(keyOf(address));
  }
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`authLimits.${name} must be a positive number (got ${value})`);
  return value;
}

function seconds(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.ceil(ms / 1000)} s`;
}

/** The address an entry counts for: IPv4 (also IPv4-mapped IPv6) as is, IPv6 by its /64. */
export function keyOf(address: string | undefined): string {
  if (address === undefined) return '?';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('%', 1)[0]!.split('::');
  const left = head === '' ? [] : head.split(':');
  // A dotted IPv4 tail (`64:ff9b::1.2.3.4`) stands for two groups.
  const right = tail === '' ? [] : tail.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g]));
  const groups = address.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
