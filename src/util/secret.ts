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
