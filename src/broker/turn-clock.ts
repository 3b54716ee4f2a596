/**
 * A counter that advances once per event-loop turn (in the check phase,
 * and only while someone reads it), so a connection can tell whether it
 * already had its share of this turn.
 *
 * Why: resuming a paused socket delivers its buffered data through
 * `process.nextTick`, so a connection whose client pipelines without limit
 * could otherwise execute request after request without ever yielding to
 * the event loop while the kernel keeps absorbing its replies (measured:
 * 40 such clients made a new client wait 7–13 s). With a per-turn share,
 * every connection, including a new one, is served within a turn or two.
 */
let turn = 0;
let ticking = false;

function advance(): void {
  turn++;
  ticking = false;
}

export function currentTurn(): number {
  if (!ticking) {
    ticking = true;
    setImmediate(advance);
  }
  return turn;
}
