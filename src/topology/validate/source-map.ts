import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node, type Pair } from 'yaml';

/** A 1-based position in the topology file. */
export interface Position {
  line: number;
  col: number;
}

export type Path = readonly PropertyKey[];

/**
 * The parsed YAML document with its positions, so a path into the plain JS
 * value (`['processors', 'parse', 'timeout']`, as zod reports it) can be
 * mapped back to the line and column a person should look at.
 */
export class SourceMap {
  readonly doc: Document;
  readonly #lines: LineCounter;

  constructor(text: string) {
    this.#lines = new LineCounter();
    // uniqueKeys: a duplicated name is an error, never a silent overwrite.
    // merge: `<<: *defaults` shares settings between processors, as YAML users expect.
    // logLevel: problems are reported as diagnostics, never as process warnings on stderr.
    // A bare CR is a line break in YAML 1.2 (as LF and CRLF are), but the parser reads only the latter two:
    // a file saved with CR line endings (classic Mac) was one long line with a misleading "nested mappings"
    // error. Each bare CR becomes an LF, which keeps every offset, so positions stay right.
    this.doc = parseDocument(text.replace(/\r(?!\n)/g, '\n'), { lineCounter: this.#lines, prettyErrors: false, uniqueKeys: true, merge: true, logLevel: 'error' });
  }

  /** Position of a character offset. */
  at(offset: number): Position {
    const { line, col } = this.#lines.linePos(offset);
    return { line, col };
  }

  /**
   * The pair holding `key` in a map node, following `<<: *anchor` merges so
   * a value that came from an anchored block points at where it is written.
   */
  pair(node: unknown, key: PropertyKey, depth = 0): Pair | undefined {
    if (!isMap(node) || depth > 8) return undefined;
    // With `merge: true` the merge key's value is a symbol; its source text is `<<`.
    const name = (p: Pair): string => (isScalar(p.key) ? (typeof p.key.value === 'symbol' ? String(p.key.source) : String(p.key.value)) : String(p.key));
    const own = node.items.find((p) => name(p) === String(key));
    if (own) return own;
    for (const merge of node.items.filter((p) => name(p) === '<<')) {
      const sources = isSeq(merge.value) ? merge.value.items : [merge.value];
      for (const source of sources) {
        const target = isAlias(source) ? source.resolve(this.doc) : source;
        const found = this.pair(target, key, depth + 1);
        if (found) return found;
      }
    }
    return undefined;
  }

  /** The value node at `path`, or undefined when the path leaves the document. */
  node(path: Path): Node | undefined {
    let node: unknown = this.doc.contents;
    for (const segment of path) {
      if (isAlias(node)) node = node.resolve(this.doc);
      if (isMap(node)) node = this.pair(node, segment)?.value;
      else if (isSeq(node) && typeof segment === 'number') node = node.items[segment];
      else return undefined;
      if (node === undefined || node === null) return undefined;
    }
    return node as Node;
  }

  /** The key node of the last segment of `path` (for "unknown key" and naming errors). */
  keyNode(path: Path): Node | undefined {
    if (path.length === 0) return undefined;
    const key = this.pair(this.node(path.slice(0, -1)), path[path.length - 1]!)?.key;
    return key !== null && typeof key === 'object' ? (key as Node) : undefined;
  }

  /**
   * Where to point for `path`: its value when that has a place in the text,
   * else its key (e.g. `orders:` with nothing after it), else the closest
   * ancestor that exists, else the start of the file.
   */
  position(path: Path, { preferKey = false } = {}): Position {
    for (let depth = path.length; depth >= 0; depth -= 1) {
      const prefix = path.slice(0, depth);
      const value = this.node(prefix);
      const key = this.keyNode(prefix);
      const valueUsable = value?.range !== undefined && value.range !== null && !(isScalar(value) && value.value === null && value.range[0] === value.range[1]);
      if (preferKey && depth === path.length && key?.range) return this.at(key.range[0]);
      if (valueUsable) return this.at(value!.range![0]);
      if (key?.range) return this.at(key.range[0]);
    }
    return { line: 1, col: 1 };
  }
}
