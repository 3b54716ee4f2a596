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

/** Reports syntax errors; returns true when there were any (the document cannot be trusted then). */
export function reportSyntax(map: SourceMap, out: DiagnosticList): boolean {
  const lines = new Set<number>();
  for (const error of map.doc.errors) {
    const pos = map.at(error.pos[0]);
    // One slip often trips several parser rules on the same line; the first says it best.
    if (lines.has(pos.line)) continue;
    lines.add(pos.line);
    const text = cleanMessage(error.message);
    let hint = '';
    if (error.code === 'MULTIPLE_DOCS') {
      out.error(pos, 'YAML syntax: a topology is one YAML document, but a second one starts here ("---"); remove it or move it to its own file');
      continue;
    }
    if (error.code === 'DUPLICATE_KEY') hint = '; each name may appear once in a mapping';
    else if (error.code === 'TAB_AS_INDENT') hint = ' — indent with spaces, not tabs';
    else if (INDENT_CODES.has(error.code)) hint = ' — is it indented correctly?';
    out.error(pos, `YAML syntax: ${text}${hint}`);
  }
  return map.doc.errors.length > 0;
}
