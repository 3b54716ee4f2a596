import { Lexer } from 'yaml';
import { parseSize } from '../units.js';

/**
 * Size limits checked before a topology is parsed. Why before: the YAML
 * parser builds a node per token and resolves each alias by searching the
 * document, so a few megabytes of anchors and aliases cost gigabytes and
 * tens of seconds before any other check could reject the file. A real
 * topology is a few kilobytes with a handful of anchors.
 */
export interface TopologyLimits {
  /**
   * Largest topology file accepted, in bytes (checked before it is read).
   * @default 256 KiB
   */
  maxBytes?: number;
  /**
   * Most YAML aliases (`*name`) in the file, counted by a lexer pass before
   * parsing; the same bound applies to alias expansion when the document is
   * converted (the `yaml` package's `maxAliasCount`).
   * @default 100
   */
  maxAliases?: number;
}

export const DEFAULT_MAX_TOPOLOGY_BYTES = 256 * 1024;
export const DEFAULT_MAX_TOPOLOGY_ALIASES = 100;

/** Control tokens the lexer adds that are not source text (document start, flow error, scalar marker). */
const CONTROL = new Set(['\u0002', '\u0018', '\u001f']);

export interface LimitProblem {
  line: number;
  col: number;
  message: string;
}

/** The file-size problem of a file of `bytes` bytes, or undefined. */
export function sizeProblem(bytes: number, limits: TopologyLimits = {}): LimitProblem | undefined {
  const max = limits.maxBytes ?? DEFAULT_MAX_TOPOLOGY_BYTES;
  if (bytes <= max) return undefined;
  return {
    line: 1, col: 1,
    message: `the topology is ${bytes} bytes, over the limit of ${max} bytes (a topology is normally a few KB); ` +
      'if this file really is a topology, raise the limit with --max-topology-size',
  };
}

/**
 * Counts aliases with the YAML lexer (linear, no document built) and
 * reports the first one over the limit with its line and column.
 */
export function aliasProblem(text: string, limits: TopologyLimits = {}): LimitProblem | undefined {
  const max = limits.maxAliases ?? DEFAULT_MAX_TOPOLOGY_ALIASES;
  let aliases = 0;
  let offset = 0;
  for (const token of new Lexer().lex(text)) {
    if (CONTROL.has(token)) continue;
    if (token.startsWith('*') && ++aliases > max) {
      const { line, col } = position(text, offset);
      return {
        line, col,
        message: `more than ${max} YAML aliases (${token.slice(0, 40)} is alias number ${aliases}); a topology needs only a few ` +
          '(large alias graphs can expand exponentially), so the file is refused before it is parsed',
      };
    }
    offset += token.length;
  }
  return undefined;
}

function position(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, col: offset - start + 1 };
}

/** Parses a `--max-topology-size` value (`2MiB`, `500KB`, bytes); undefined when it is not a size. */
export function parseTopologySizeFlag(value: string): number | undefined {
  const bytes = parseSize(value);
  return bytes !== undefined && bytes > 0 ? bytes : undefined;
}
