import type { ProgressSnapshot } from './progress-tally.js';
import { computeRates, renderLive, renderSummary } from './progress-format.js';

export interface ProgressReporterOptions {
  /** Live view redrawn in place (true) or periodic JSON lines (false). Usually `stream.isTTY`. */
  tty: boolean;
  stream: NodeJS.WritableStream;
  /** Shown in the header and in JSON lines. @default 'pipeline' */
  app?: string;
  /**
   * Off a TTY, at most one JSON progress line per this interval (measured
   * on snapshot times, so a fake clock drives it in tests).
   * @default 10000
   */
  logIntervalMs?: number;
}

export interface ProgressReporter {
  /** Feed the latest totals (e.g. `hub.progress()` every second). */
  update(snapshot: ProgressSnapshot): void;
  /** Prints the final summary; further updates are ignored. */
  finish(final: ProgressSnapshot): void;
}

// ANSI: move to the start of the line N lines up; clear the whole line.
const up = (n: number): string => `\x1b[${n}F`;
const CLEAR_LINE = '\x1b[2K';

/**
 * Shows pipeline progress the way an operator wants it: on a TTY a block of
 * lines rewritten in place (no scrolling log spam); elsewhere (CI, systemd,
 * containers) one JSON line per interval that log pipelines can parse.
 * It holds no timers: the caller decides when to `update`.
 */
export function createProgressReporter(options: ProgressReporterOptions): ProgressReporter {
  const { stream, tty } = options;
  const app = options.app ?? 'pipeline';
  const logIntervalMs = options.logIntervalMs ?? 10_000;
  let startedAt: number | undefined;
  let previous: ProgressSnapshot | undefined;
  let lastLogged: ProgressSnapshot | undefined;
  let drawnLines = 0;
  let finished = false;

  function draw(lines: string[]): void {
    let out = drawnLines > 0 ? up(drawnLines) : '';
    for (const line of lines) out += `${CLEAR_LINE}${line}\n`;
    // A view that shrank leaves stale lines below: clear them.
    for (let i = lines.length; i < drawnLines; i++) out += `${CLEAR_LINE}\n`;
    stream.write(out);
    drawnLines = Math.max(lines.length, drawnLines);
  }

  return {
    update(snapshot) {
      if (finished) return;
      startedAt ??= snapshot.at;
      if (tty) {
        draw(renderLive(app, snapshot.at - startedAt, snapshot, computeRates(previous, snapshot)));
      } else if (lastLogged === undefined || snapshot.at - lastLogged.at >= logIntervalMs) {
        const rates = computeRates(lastLogged, snapshot);
        stream.write(`${JSON.stringify({ type: 'progress', app, elapsedMs: snapshot.at - startedAt, ...withoutAt(snapshot), ...(rates ? { rates } : {}) })}\n`);
        lastLogged = snapshot;
      }
      previous = snapshot;
    },
    finish(final) {
      if (finished) return;
      finished = true;
      const elapsedMs = final.at - (startedAt ?? final.at);
      if (tty) draw(renderSummary(app, elapsedMs, final));
      else stream.write(`${JSON.stringify({ type: 'summary', app, elapsedMs, ...withoutAt(final) })}\n`);
    },
  };
}

function withoutAt(snapshot: ProgressSnapshot): Omit<ProgressSnapshot, 'at'> {
  const { at: _at, ...rest } = snapshot;
  return rest;
}

/** Timer seam so tests can drive the loop by hand. */
export interface IntervalTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

/**
 * Calls `reporter.update(source())` every `intervalMs` until `stop()`, which
 * prints the final summary. The timer is unref'd: progress never keeps the
 * process alive.
 */
export function driveProgress(
  source: () => ProgressSnapshot,
  reporter: ProgressReporter,
  options: { intervalMs?: number; timers?: IntervalTimers } = {},
): { stop(): void } {
  const timers: IntervalTimers = options.timers ?? {
    setInterval: (fn, ms) => setInterval(fn, ms).unref(),
    clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
  };
  reporter.update(source());
  const handle = timers.setInterval(() => reporter.update(source()), options.intervalMs ?? 1000);
  return {
    stop() {
      timers.clearInterval(handle);
      reporter.finish(source());
    },
  };
}
