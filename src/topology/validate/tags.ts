import { isNode, visit } from 'yaml';
import type { DiagnosticList } from './diagnostics.js';
import type { SourceMap } from './source-map.js';

/**
 * YAML tags a topology has no use for. The core ones (`!!str`, `!!int`,
 * `!!float`, `!!bool`, `!!null`, `!!map`, `!!seq`) only say what the value
 * already is. The others changed it without a word: `!!binary`,
 * `!!timestamp`, `!!set`, `!!omap` made a byte buffer, a Date, a Set or a
 * Map, each then reported as "got a mapping" where a name or a number was
 * expected; an unknown tag (`!!js/function`, `!env X`) was dropped with a
 * parser warning nobody saw, leaving its text. Nothing tagged is ever
 * evaluated; each such tag is now an error at its value.
 */
const CORE = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`));

/** Reports every tag that is not a core one; returns true when there was one. */
export function reportTags(map: SourceMap, out: DiagnosticList): boolean {
  let found = false;
  visit(map.doc, (_key, node) => {
    if (!isNode(node) || node.tag === undefined || CORE.has(node.tag)) return;
    found = true;
    const tag = node.tag.replace(/^tag:yaml\.org,2002:/, '!!');
    out.error(map.at(node.range?.[0] ?? 0), `YAML tag ${tag} has no meaning in a topology (values are plain text, numbers, true/false, lists and mappings, ` +
      `and nothing in the file is evaluated): remove ${tag} and write the value itself`);
  });
  return found;
}
