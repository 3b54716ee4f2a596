import { isPair, isScalar, isSeq, visit, type Scalar } from 'yaml';
import type { DiagnosticList } from './validate/diagnostics.js';
import { schemaAt, type JsonSchema } from './schema/json-schema.js';
import type { Path, SourceMap } from './validate/source-map.js';

/**
 * `${VAR}` and `${VAR:-default}` in scalar values, resolved from the
 * environment before validation. Nothing is evaluated: a variable's value is
 * inserted as text, never re-scanned. `$${` writes a literal `${`.
 *
 * A plain (unquoted) scalar, or any scalar that is exactly one `${...}`, is
 * re-typed after substitution (`workers: ${WORKERS:-4}` is the number 4);
 * a quoted scalar with other text around the variable stays a string. A key
 * whose schema only takes text (`topic`, `module`, ...) always stays a
 * string, so `topic: ${TOPIC}` with `TOPIC=2024` is the topic "2024".
 */

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type Env = Record<string, string | undefined>;

interface Substituted {
  text: string;
  /** True when the whole scalar was one `${...}` expression. */
  whole: boolean;
}

/** Substitutes one string; returns an error message instead when it cannot. */
export function substitute(text: string, env: Env): Substituted | { error: string } {
  let out = '';
  let expressions = 0;
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('$${', i)) {
      out += '${';
      i += 3;
      continue;
    }
    if (!text.startsWith('${', i)) {
      out += text[i];
      i += 1;
      continue;
    }
    const close = text.indexOf('}', i + 2);
    if (close === -1) return { error: `unterminated "\${" in ${JSON.stringify(text)}; close it with "}" or write "$\${" for a literal "\${"` };
    const body = text.slice(i + 2, close);
    const sep = body.indexOf(':-');
    const name = sep === -1 ? body : body.slice(0, sep);
    const fallback = sep === -1 ? undefined : body.slice(sep + 2);
    if (!NAME.test(name)) {
      return { error: `invalid variable name ${JSON.stringify(name)} in "\${${body}}"; use letters, digits and _, not starting with a digit (\${NAME} or \${NAME:-default})` };
    }
    if (fallback?.includes('${')) {
      return { error: `nested "\${" in the default of "\${${name}:-…}" is not supported (a default is literal text); write it out: \${${name}:-value}` };
    }
    const value = env[name];
    if (fallback !== undefined) out += value === undefined || value === '' ? fallback : value;
    else if (value !== undefined) out += value;
    else return { error: `environment variable ${name} is not set and "\${${name}}" has no default; set ${name} or write \${${name}:-default}` };
    expressions += 1;
    i = close + 1;
  }
  return { text: out, whole: expressions === 1 && /^\$\{[^}]*\}$/.test(text) };
}

/** YAML core-schema typing of a substituted plain scalar: numbers, booleans, null. */
function retype(text: string): unknown {
  if (/^[-+]?\d+$/.test(text)) return Number(text);
  if (/^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$/.test(text)) return Number(text);
  if (/^(true|True|TRUE)$/.test(text)) return true;
  if (/^(false|False|FALSE)$/.test(text)) return false;
  if (/^(null|Null|NULL|~)?$/.test(text)) return null;
  return text;
}

/** The JS path (as zod reports it) of a node, from the ancestors `visit` passes. */
function jsPath(ancestors: readonly unknown[], node: unknown): Path {
  const path: PropertyKey[] = [];
  ancestors.forEach((ancestor, i) => {
    if (isPair(ancestor)) path.push(isScalar(ancestor.key) ? String(ancestor.key.value) : String(ancestor.key));
    else if (isSeq(ancestor)) path.push(ancestor.items.indexOf((ancestors[i + 1] ?? node) as never));
  });
  return path;
}

function textOnly(schema: JsonSchema | undefined): boolean {
  if (schema === undefined) return false;
  if (schema.anyOf) return schema.anyOf.every(textOnly);
  return schema.type === 'string';
}

/** Interpolates every scalar value of the document in place, reporting problems at the scalar. */
export function interpolate(map: SourceMap, env: Env, diagnostics: DiagnosticList): void {
  visit(map.doc, {
    Scalar(key, node: Scalar, ancestors) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('$')) return;
      const result = substitute(node.value, env);
      const pos = map.at(node.range?.[0] ?? 0);
      if ('error' in result) {
        diagnostics.error(pos, result.error);
        diagnostics.block(pos);
        return;
      }
      const plain = node.type === 'PLAIN' || node.type === undefined;
      const retyped = (plain || result.whole) && !textOnly(schemaAt(jsPath(ancestors, node)));
      node.value = retyped ? retype(result.text) : result.text;
      if (isScalar(node) && typeof node.value !== 'string') node.type = 'PLAIN';
    },
  });
}
