import type { Diagnostic } from '../types.js';
import type { Path, Position, SourceMap } from './source-map.js';

/**
 * Collects every problem of one file, so they can be reported all at once,
 * sorted by position, like a compiler.
 */
export class DiagnosticList {
  readonly #file: string;
  readonly #map: SourceMap | undefined;
  readonly #items: Diagnostic[] = [];
  readonly #seen = new Set<string>();
  readonly #blocked = new Set<string>();

  constructor(file: string, map?: SourceMap) {
    this.#file = file;
    this.#map = map;
  }

  /** Adds a problem at `where` (a position, or a path resolved through the source map). */
  add(severity: Diagnostic['severity'], where: Position | Path, text: string, opts: { preferKey?: boolean } = {}): void {
    const message = oneLine(text);
    const pos = Array.isArray(where) ? (this.#map?.position(where as Path, opts) ?? { line: 1, col: 1 }) : (where as Position);
    const key = `${pos.line}:${pos.col}:${severity}:${message}`;
    if (this.#seen.has(key) || this.#blocked.has(`${pos.line}:${pos.col}`)) return;
    this.#seen.add(key);
    this.#items.push({ file: this.#file, line: pos.line, col: pos.col, message, severity });
  }

  /**
   * Drops later diagnostics at `pos`: once a value is known to be broken
   * (e.g. its `${VAR}` could not be resolved), what else is wrong with the
   * leftover text is noise.
   */
  block(pos: Position): void {
    this.#blocked.add(`${pos.line}:${pos.col}`);
  }

  error(where: Position | Path, message: string, opts?: { preferKey?: boolean }): void {
    this.add('error', where, message, opts);
  }

  warning(where: Position | Path, message: string, opts?: { preferKey?: boolean }): void {
    this.add('warning', where, message, opts);
  }

  get errors(): Diagnostic[] {
    return sortDiagnostics(this.#items.filter((d) => d.severity === 'error'));
  }

  get warnings(): Diagnostic[] {
    return sortDiagnostics(this.#items.filter((d) => d.severity === 'warning'));
  }

  get all(): Diagnostic[] {
    return sortDiagnostics(this.#items);
  }

  get hasErrors(): boolean {
    return this.#items.some((d) => d.severity === 'error');
  }
}

// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * A message as one line of plain text: control characters (newlines, ESC),
 * line separators and bidi overrides escaped. Messages quote what the file
 * says (names, references), and a name "a\nfake.yaml:1:1: error: ..." forged
 * a diagnostic line of its own, and one holding ESC drove the terminal.
 */
function oneLine(text: string): string {
  return text.replace(UNPRINTABLE, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function sortDiagnostics(list: Diagnostic[]): Diagnostic[] {
  return [...list].sort((a, b) => a.line - b.line || a.col - b.col || a.message.localeCompare(b.message));
}

/** `topology.yaml:12:5: error: message` — the form editors and terminals link. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.severity}: ${d.message}`;
}
