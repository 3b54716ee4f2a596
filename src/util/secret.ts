/**
 * A copy of `credentials` whose `password` is not enumerable:
 * `JSON.stringify`, `console.log`/`util.inspect` and pino show
 * `{ username }` only, so printing a client's options or a topology
 * cannot leak it, while code that reads `.password` still gets it.
 */
export function hidePassword<T extends { username: string; password: string }>(credentials: T): T {
  const { password, ...rest } = credentials;
  const copy = { ...rest } as T;
  Object.defineProperty(copy, 'password', { value: password, enumerable: false });
  return copy;
}

/** A copy of `object` with its `password` and `token` (when present) not enumerable, like {@link hidePassword}. */
export function hideSecrets<T extends object>(object: T): T {
  const copy = { ...object } as Record<string, unknown>;
  for (const key of ['password', 'token']) {
    if (copy[key] === undefined) continue;
    const value = copy[key];
    delete copy[key];
    Object.defineProperty(copy, key, { value, enumerable: false });
  }
  return copy as T;
}
