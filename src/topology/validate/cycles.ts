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

  // Iterative: a chain of thousands of processors fits in a topology file
  // and overflowed the call stack of a recursive search (RangeError, exit 3).
  const visit = (root: string): void => {
    const next: number[] = [];
    const enter = (node: string): void => {
      state.set(node, 'open');
      stack.push(node);
      next.push(0);
    };
    enter(root);
    while (stack.length > 0) {
      const node = stack[stack.length - 1]!;
      const edges = downstream.get(node) ?? [];
      const i = next[next.length - 1]!;
      if (i === edges.length) {
        stack.pop();
        next.pop();
        state.set(node, 'done');
        continue;
      }
      next[next.length - 1] = i + 1;
      const to = edges[i]!;
      const s = state.get(to);
      if (s === 'open') {
        const cycle = [...stack.slice(stack.lastIndexOf(to)), to];
        const key = [...new Set(cycle)].sort().join('\u0000');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(cycle);
        }
      } else if (s === undefined) {
        enter(to);
      }
    }
  };
  for (const node of downstream.keys()) if (!state.has(node)) visit(node);
  return cycles;
}
