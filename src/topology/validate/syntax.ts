import type { DiagnosticList } from './diagnostics.js';
import type { SourceMap } from './source-map.js';

/**
 * YAML syntax errors, positioned, with a hint for the ones that are almost
 * always an indentation slip (the most common YAML mistake by far).
 */

const INDENT_CODES = new Set(['BAD_INDENT', 'MISSING_CHAR', 'UNEXPECTED_TOKEN', 'BLOCK_AS_IMPLICIT_KEY', 'MULTILINE_IMPLICIT_KEY', 'TAB_AS_INDENT']);

function cleanMessage(message: string): string {
  // yaml appends " at line L, column C" (and sometimes a code excerpt); we print our own position.
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '').replace(/\.$/, '');
}

/**
 * The YAML parser is recursive: a value nested hundreds of levels deep
 * (`- - - - ... x`, `[[[[...]]]]`, a few KB) runs it out of stack. It then
 * either records "Maximum call stack size exceeded" as a syntax error, or
 * throws it: validate died with a RangeError and its stack trace (exit 3).
 */
export const TOO_DEEP = 'the YAML nests too deeply to be read (lists and mappings inside each other, hundreds of levels down); ' +
  'a topology nests a handful of levels: flatten this value (a processor\'s config can hold a JSON string, or a path to a file, instead)';

/**
 * Where a too-deep value most likely is, when the parser threw instead of
 * saying: the line that opens the most levels before its first plain
 * character (indentation, `- `, `[`, `{`), at that character.
 */
export function deepestLine(text: string): { line: number; col: number } {
  let best = { line: 1, col: 1 };
  text.split('\n').forEach((line, i) => {
    const run = /^[\s\-[{]*/.exec(line)![0].length;
    if (run + 1 > best.col) best = { line: i + 1, col: run + 1 };
  });
  return best;
}

export function isTooDeep(error: unknown): boolean {
  return error instanceof RangeError && /Maximum call stack size exceeded/.test(error.message);
}

/**
 * `{ topic: ${TOPIC} }`: in a flow mapping or list, YAML reads the `{` of an
 * unquoted `${` as a nested mapping. The parser's errors ("Unexpected
 * flow-map-start at node end — is it indented correctly?", then one for
 * every line after it) pointed at indentation. The value to quote instead,
 * when the error sits at such a `${`.
 */
export function unquotedVariable(text: string, offset: number): string | undefined {
  const at = text.lastIndexOf('${', offset);
  if (at === -1 || offset - at > 2 || text.slice(at, offset).includes('\n')) return undefined;
  const close = text.indexOf('}', at);
  const end = close === -1 || text.slice(at, close).includes('\n') ? undefined : close + 1;
  let start = at;
  while (start > 0 && !' \t,[{\n'.includes(text[start - 1]!)) start -= 1;
  return end === undefined ? undefined : text.slice(start, end);
}

/** Reports syntax errors; returns true when there were any (the document cannot be trusted then). */
export function reportSyntax(map: SourceMap, out: DiagnosticList, source?: string): boolean {
  const lines = new Set<number>();
  for (const [i, error] of map.doc.errors.entries()) {
    const pos = map.at(error.pos[0]);
    const variable = source === undefined ? undefined : unquotedVariable(source, error.pos[0]);
    if (variable !== undefined && !lines.has(pos.line)) {
      const later = map.doc.errors.slice(i + 1).some((e) => map.at(e.pos[0]).line !== pos.line);
      out.error(pos, `YAML syntax: ${variable} inside { ... } or [ ... ] must be quoted, or YAML reads the "{" of "\${" as the start of a mapping: ` +
        `write "${variable}"${later ? ' (the errors the parser found after it follow from this one and are not shown)' : ''}`);
      break;
    }
    // One slip often trips several parser rules on the same line; the first says it best.
    if (lines.has(pos.line)) continue;
    lines.add(pos.line);
    const text = cleanMessage(error.message);
    let hint = '';
    if (error.code === 'MULTIPLE_DOCS') {
      out.error(pos, 'YAML syntax: a topology is one YAML document, but a second one starts here ("---"); remove it or move it to its own file');
      continue;
    }
    if (/Maximum call stack size exceeded/.test(error.message)) {
      out.error(pos, TOO_DEEP);
      continue;
    }
    if (error.code === 'DUPLICATE_KEY') hint = '; each name may appear once in a mapping';
    else if (error.code === 'TAB_AS_INDENT') hint = ' — indent with spaces, not tabs';
    else if (INDENT_CODES.has(error.code)) hint = ' — is it indented correctly?';
    out.error(pos, `YAML syntax: ${text}${hint}`);
  }
  return map.doc.errors.length > 0;
}
