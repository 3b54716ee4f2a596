/**
 * Cycle detection over the processor graph. Given each processor's upstream
 * processors, returns every elementary cycle found by a depth-first search,
 * in data-flow order and closed (`['a', 'b', 'a']` means a → b → a), each
 * reported once whatever node the search entered it from.
 */
export function findCycles(upstream: ReadonlyMap<string, readonly string[]>): string[][] {
  const downstream = new Map<string, string[]>();
  for (const name of upstream.keys()) downstream.set(name, []);
  for (const [name, ups] of upstream) {
    for (const u of ups) downstream.get(u)?.push(name);
  }
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const seen = new Set<string>();

  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of downstream.get(node) ?? []) {
      const s = state.get(next);
      if (s === 'open') {
        const cycle = [...stack.slice(stack.indexOf(next)), next];
        const key = [...new Set(cycle)].sort().join('\u0000');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(cycle);
        }
      } else if (s === undefined) {
        visit(next);
      }
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of downstream.keys()) if (!state.has(node)) visit(node);
  return cycles;
}
