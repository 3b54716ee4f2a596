/**
 * Bounds of the client's options (options.ts), shared with the topology's
 * `cluster:` keys (src/topology/schema/schema-cluster.ts): `validate` then
 * refuses, at its line, a value the client would refuse when `run` starts it.
 */
export const CLIENT_LIMITS = {
  /** Longest delay or timeout: one day. */
  maxMs: 86_400_000,
  /** Most connections per node (`pool.min`, `pool.max`). */
  connections: 1024,
  retries: 100,
  multiplier: 100,
  failureThreshold: 1_000_000,
  halfOpenAttempts: 1_000,
} as const;
