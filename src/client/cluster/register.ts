/**
 * How `client.register(topic)` waits for its REGISTER on every node.
 *
 * It resolves once one node confirmed (a real Walrus cluster replicates the
 * registration; a node of independent embedded nodes that missed it heals
 * on its first `unknown topic`, see Router), after giving the other nodes
 * `graceMs` more to answer, so every responsive node has the topic when it
 * resolves. Why not wait for all: a node that accepts connections but does
 * not answer held register() — and a Producer's first write, and every
 * topic a pipeline registers at start — for its whole retry budget, about
 * (retries + 1) × requestTimeoutMs (40 s by default). What is still in
 * flight after the grace goes on in the background (its failure is only
 * counted by the node). When every node fails, the first node's error is thrown.
 */
export async function registerOnAll(attempts: Array<Promise<unknown>>, graceMs: number): Promise<void> {
  for (const attempt of attempts) attempt.catch(() => undefined); // those left in the background must not go unhandled
  let confirmed = false;
  await new Promise<void>((resolve, reject) => {
    let failed = 0;
    for (const attempt of attempts) {
      attempt.then(() => {
        if (!confirmed) {
          confirmed = true;
          resolve();
        }
      }, () => {
        // In node order: the first node's error, as before.
        if (++failed === attempts.length) attempts[0]!.catch(reject);
      });
    }
  });
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, graceMs);
    timer.unref();
  });
  await Promise.race([Promise.allSettled(attempts), grace]);
  clearTimeout(timer);
}
