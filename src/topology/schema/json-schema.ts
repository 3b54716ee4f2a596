import { readFileSync } from 'node:fs';
import { zod } from '../../util/zod.js';
import { topologySchema } from './schema.js';
import type { Path } from '../validate/source-map.js';

const z = zod();

/**
 * The JSON Schema of topology.yaml, generated from the zod schema: editors
 * use it (through the `yaml-language-server` comment), the docs generator
 * walks it, and "did you mean" / "is it indented correctly?" look keys up in
 * it, so all of them agree with validation by construction.
 */

export interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  minLength?: number;
  [key: string]: unknown;
}

let cached: JsonSchema | undefined;

/**
 * The build writes the generated schema next to the compiled module
 * (scripts/build.mjs): reading it costs a millisecond, generating it with
 * zod tens of them, on every `validate` and `run` that interpolates a value.
 */
function prebuilt(): JsonSchema | undefined {
  try {
    return JSON.parse(readFileSync(new URL('./topology.schema.json', import.meta.url), 'utf8')) as JsonSchema;
  } catch {
    return undefined;
  }
}

/** The topology JSON Schema (draft-07, the draft yaml-language-server supports best). */
export function topologyJsonSchema(): JsonSchema {
  cached ??= prebuilt() ?? {
    ...(z.toJSONSchema(topologySchema, { io: 'input', target: 'draft-7', unrepresentable: 'any' }) as JsonSchema),
    title: 'walrus-stream topology',
  };
  return cached;
}

/** The schema of the value at `path` (record entries and list items included). */
export function schemaAt(path: Path, root: JsonSchema = topologyJsonSchema()): JsonSchema | undefined {
  let node: JsonSchema | undefined = root;
  for (const segment of path) {
    if (node === undefined) return undefined;
    node = step(node, segment);
  }
  return node;
}

function step(node: JsonSchema, segment: PropertyKey): JsonSchema | undefined {
  if (node.anyOf) {
    for (const branch of node.anyOf) {
      const next = step(branch, segment);
      if (next) return next;
    }
    return undefined;
  }
  if (typeof segment === 'number') return node.items;
  const prop = node.properties?.[String(segment)];
  if (prop) return prop;
  return typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined;
}

/** Allowed keys of the mapping at `path` (empty when it is free-form or not a mapping). */
export function keysAt(path: Path): string[] {
  const node = schemaAt(path);
  return node?.properties ? Object.keys(node.properties) : [];
}

let index: Map<string, string[]> | undefined;

/** Where else a key is valid, as display paths (`sources.<name>`), for indentation hints. */
export function placesOfKey(key: string): string[] {
  if (!index) {
    index = new Map();
    const walk = (node: JsonSchema, at: string): void => {
      for (const branch of node.anyOf ?? []) walk(branch, at);
      for (const [k, child] of Object.entries(node.properties ?? {})) {
        const list = index!.get(k) ?? [];
        list.push(at || 'the top level');
        index!.set(k, list);
        walk(child, at ? `${at}.${k}` : k);
      }
      if (typeof node.additionalProperties === 'object' && node.additionalProperties.properties) {
        walk(node.additionalProperties, `${at}.<name>`);
      }
      if (node.items) walk(node.items, `${at}[]`);
    };
    walk(topologyJsonSchema(), '');
  }
  return index.get(key) ?? [];
}

/** The schema as the repo ships it: 2-space JSON with a final newline. */
export function topologyJsonSchemaText(): string {
  return `${JSON.stringify(topologyJsonSchema(), null, 2)}\n`;
}
