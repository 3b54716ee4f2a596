/**
 * Durations and sizes as people write them in YAML (`250ms`, `5s`, `64KiB`),
 * parsed to plain numbers (milliseconds, bytes).
 */

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;

/** The forms a duration may take, for error messages and docs. */
export const DURATION_FORMS = '250ms, 5s, 2m, 1h, 1m30s, or a number of milliseconds';
/** The forms a size may take, for error messages and docs. */
export const SIZE_FORMS = '512B, 64KiB, 1MiB, 1KB (1000), 1MB, or a number of bytes';

/** Parses a duration to whole milliseconds; undefined when `value` is not one. */
export function parseDuration(value: string | number): number | undefined {
  const exact = durationMs(value);
  return exact === undefined ? undefined : Math.round(exact);
}

/** A duration's milliseconds before rounding (`0.4ms` → 0.4); undefined when `value` is not one. */
export function durationMs(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text.length === 0) return undefined;
  let total = 0;
  let end = 0;
  DURATION_PART.lastIndex = 0;
  for (let m = DURATION_PART.exec(text); m !== null; m = DURATION_PART.exec(text)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    end = DURATION_PART.lastIndex;
  }
  return end === text.length ? total : undefined;
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1_000, mb: 1_000_000, gb: 1_000_000_000,
  kib: 1_024, mib: 1_048_576, gib: 1_073_741_824,
};
const SIZE = /^(\d+(?:\.\d+)?)\s*([a-z]+)?$/i;

/** Parses a size to whole bytes; undefined when `value` is not one. */
export function parseSize(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  const m = SIZE.exec(value.trim());
  if (!m) return undefined;
  const unit = m[2] === undefined ? 1 : SIZE_UNITS[m[2].toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Number(m[1]) * unit;
  return Number.isInteger(bytes) ? bytes : Math.floor(bytes);
}

/** `65536` → `64KiB`, for messages. */
export function formatSize(bytes: number): string {
  if (bytes >= 1_048_576 && bytes % 1_048_576 === 0) return `${bytes / 1_048_576}MiB`;
  if (bytes >= 1_024 && bytes % 1_024 === 0) return `${bytes / 1_024}KiB`;
  return `${bytes}B`;
}

/** `90000` → `1m30s`, `250` → `250ms`, `0` → `0ms`: a duration as a topology writes it. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return `${Math.max(0, Math.round(ms) || 0)}ms`;
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1_000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}
