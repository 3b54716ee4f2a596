import { Writable } from 'node:stream';
import type { ProgressSnapshot } from './progress-tally.js';
import { computeRates, renderLive } from './progress-format.js';

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
  /** More lines under the live view on a TTY (the dead-letter tally). @default none */
  extraLines?: () => string[];
}

export interface ProgressReporter {
  /** Feed the latest totals (e.g. `hub.progress()` every second). */
  update(snapshot: ProgressSnapshot): void;
  /**
   * Shows the final totals and stops: on a TTY the view is redrawn once more
   * and left in place, elsewhere a last JSON line of type `summary` is
   * written. Further updates are ignored. (The run's summary table is the
   * CLI's `formatSummary`; this view does not print a second one.)
   */
  finish(final: ProgressSnapshot): void;
  /**
   * Writes `text` (whole lines) above the live view and redraws the view
   * under it, so log lines and the view share one terminal without
   * overwriting each other. Off a TTY it just writes.
   */
  writeAbove(text: string): void;
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
  let lastFrame: string[] = [];
  let finished = false;

  // A line wider than the terminal wraps and the cursor-up count goes wrong,
  // so lines are cut to the width when the stream knows it.
  function fit(line: string): string {
    const columns = (stream as { columns?: number }).columns;
    return columns !== undefined && columns > 1 && line.length >= columns ? `${line.slice(0, columns - 2)}…` : line;
  }

  function draw(lines: string[], above = ''): void {
    let out = drawnLines > 0 ? up(drawnLines) : '';
    if (above !== '') {
      // Clear the old view first: the text goes where it was.
      for (let i = 0; i < drawnLines; i++) out += `${CLEAR_LINE}\n`;
      out += `${drawnLines > 0 ? up(drawnLines) : ''}${above}`;
      drawnLines = 0;
    }
    for (const line of lines) out += `${CLEAR_LINE}${fit(line)}\n`;
    // A view that shrank leaves stale lines below: clear them.
    for (let i = lines.length; i < drawnLines; i++) out += `${CLEAR_LINE}\n`;
    stream.write(out);
    drawnLines = Math.max(lines.length, drawnLines);
    lastFrame = lines;
  }

  return {
    update(snapshot) {
      if (finished) return;
      startedAt ??= snapshot.at;
      if (tty) {
        draw([...renderLive(app, snapshot.at - startedAt, snapshot, computeRates(previous, snapshot)), ...(options.extraLines?.() ?? [])]);
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
      if (tty) draw([...renderLive(app, elapsedMs, final, computeRates(previous, final)), ...(options.extraLines?.() ?? [])]);
      else stream.write(`${JSON.stringify({ type: 'summary', app, elapsedMs, ...withoutAt(final) })}\n`);
    },
    writeAbove(text) {
      if (!tty || drawnLines === 0 || finished) { stream.write(text); return; }
      draw(lastFrame, text.endsWith('\n') ? text : `${text}\n`);
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
 * finishes the reporter with `final` (default: one more `source()`). The
 * timer is unref'd: progress never keeps the process alive.
 */
export function driveProgress(
  source: () => ProgressSnapshot,
  reporter: ProgressReporter,
  options: { intervalMs?: number; timers?: IntervalTimers } = {},
): { stop(final?: ProgressSnapshot): void } {
  const timers: IntervalTimers = options.timers ?? {
    setInterval: (fn, ms) => setInterval(fn, ms).unref(),
    clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
  };
  reporter.update(source());
  const handle = timers.setInterval(() => reporter.update(source()), options.intervalMs ?? 1000);
  return {
    stop(final) {
      timers.clearInterval(handle);
      reporter.finish(final ?? source());
    },
  };
}

/**
 * A stream for the logger that writes through `reporter.writeAbove`, so logs
 * scroll above the live view. Pass `isTTY` of the real terminal to keep
 * pretty logs.
 *
 * @example
 * const logger = createLogger({ destination: linesAboveProgress(reporter, io.stderr.isTTY === true) });
 */
export function linesAboveProgress(reporter: ProgressReporter, isTTY: boolean): Writable & { isTTY: boolean } {
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      reporter.writeAbove(String(chunk));
      callback();
    },
  }) as Writable & { isTTY: boolean };
  stream.isTTY = isTTY;
  return stream;
}
