import { topologyJsonSchema, type JsonSchema } from './json-schema.js';
import { DURATION_PATTERN, SIZE_PATTERN } from './schema-fields.js';

/**
 * The key-by-key reference of docs/topology.md, generated from the JSON
 * Schema (itself generated from the zod schema), so the docs list exactly the
 * keys, types and defaults validation uses. `npm run docs:topology` rewrites
 * the section between the markers; a test fails when it is stale.
 */

export const BEGIN_MARKER = '<!-- BEGIN GENERATED REFERENCE: npm run docs:topology -->';
export const END_MARKER = '<!-- END GENERATED REFERENCE -->';

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (value: unknown): string => `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;

/** A short human type: `duration`, `"key" \| "unordered"`, `integer 1–2000`, `list of string`. */
export function typeOf(node: JsonSchema): string {
  if (node.anyOf) {
    const patterns = node.anyOf.map((b) => b.pattern);
    if (patterns.includes(DURATION_PATTERN)) return 'duration';
    if (patterns.includes(SIZE_PATTERN)) return 'size';
    // An object branch of a union reads best as its keys: `record` or `{ field }` or `{ header }`.
    return node.anyOf.map((b) => (b.type === 'object' && b.properties ? `\`{ ${Object.keys(b.properties).join(', ')} }\`` : typeOf(b))).join(' or ');
  }
  if (node.const !== undefined) return code(node.const);
  if (node.enum) return node.enum.map(code).join(' | ');
  if (node.type === 'integer' || node.type === 'number') {
    const word = node.type;
    const min = node.minimum;
    const max = node.maximum !== undefined && node.maximum < Number.MAX_SAFE_INTEGER ? node.maximum : undefined;
    if (min !== undefined && max !== undefined) return `${word} ${min}–${max}`;
    if (min !== undefined) return `${word} ≥ ${min}`;
    return word;
  }
  if (node.type === 'array') return `list of ${node.items ? typeOf(node.items) : 'any'}`;
  if (node.type === 'object') {
    if (node.properties) return 'mapping';
    if (typeof node.additionalProperties === 'object' && node.additionalProperties.properties) return 'mapping of name → mapping';
    return 'mapping (free-form)';
  }
  if (node.type === 'boolean') return 'boolean';
  if (node.type === 'string') {
    if (node.pattern === '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):(\\d{1,5})$') return 'host:port';
    if (node.maxLength === 249) return 'topic name';
    return 'string';
  }
  return 'any';
}

interface Section {
  path: string;
  node: JsonSchema;
}

/** Every mapping with fixed keys, depth first, in schema order. */
function sections(node: JsonSchema, path: string, out: Section[]): Section[] {
  if (node.properties) {
    out.push({ path, node });
    for (const [key, child] of Object.entries(node.properties)) sections(child, path ? `${path}.${key}` : key, out);
  } else if (typeof node.additionalProperties === 'object' && node.additionalProperties.properties) {
    sections(node.additionalProperties, `${path}.<name>`, out);
  }
  return out;
}

function table(section: Section): string[] {
  const required = new Set(section.node.required ?? []);
  const rows = Object.entries(section.node.properties ?? {}).map(([key, child]) => {
    const nested = child.properties || (typeof child.additionalProperties === 'object' && child.additionalProperties.properties);
    const target = section.path ? `${section.path}.${key}` : key;
    const anchorTarget = child.properties ? target : `${target}.<name>`;
    const see = nested ? ` See [\`${anchorTarget}\`](#${anchor(anchorTarget)}).` : '';
    const dflt = required.has(key) ? '**required**' : child.default === undefined ? '—' : code(child.default);
    return `| \`${key}\` | ${cell(typeOf(child))} | ${cell(dflt)} | ${cell((child.description ?? '') + see)} |`;
  });
  return ['| key | type | default | description |', '|---|---|---|---|', ...rows];
}

/**
 * A path as heading text: `<name>` escaped, or markdown would take it for an
 * HTML tag and GitHub would drop it from the heading (and its anchor).
 */
export function headingText(path: string): string {
  return path.replace(/[<>]/g, (c) => `\\${c}`);
}

/** GitHub's heading anchor for a `path` heading. */
export function anchor(path: string): string {
  return path.toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-');
}

/** The generated reference, markers included. */
export function referenceMarkdown(): string {
  const lines = [BEGIN_MARKER, ''];
  for (const section of sections(topologyJsonSchema(), '', [])) {
    const title = section.path || 'top level';
    lines.push(`### ${headingText(title)}`, '');
    if (section.node.description) lines.push(section.node.description, '');
    lines.push(...table(section), '');
  }
  lines.push(END_MARKER);
  return lines.join('\n');
}

/** Replaces the generated section of `doc` (which must contain both markers). */
export function spliceReference(doc: string): string {
  const start = doc.indexOf(BEGIN_MARKER);
  const end = doc.indexOf(END_MARKER);
  if (start === -1 || end === -1 || end < start) throw new Error(`the document lacks the markers ${BEGIN_MARKER} … ${END_MARKER}`);
  return doc.slice(0, start) + referenceMarkdown() + doc.slice(end + END_MARKER.length);
}
