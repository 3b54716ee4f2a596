/**
 * Appends `items` to `target` one by one. `target.push(...items)` passes every
 * item as an argument, and an array of ~100k items (one record's outputs, a
 * batch's timestamps) overflows the call stack with a RangeError.
 */
export function appendAll<T>(target: T[], items: ReadonlyArray<T>): T[] {
  for (let i = 0; i < items.length; i++) target.push(items[i]!);
  return target;
}
