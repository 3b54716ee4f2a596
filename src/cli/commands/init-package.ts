/**
 * `walrus-stream init --force` over a project that has a package.json: the
 * scaffold's fields are merged into it instead of writing over it. What the
 * user has stays as it is (values, unknown fields, key order, indentation,
 * line endings); only what is missing is added.
 */

import { isRecord } from '../../topology/validate/references.js';

export type PackageMerge =
  | {
    /** The new file text; undefined when nothing was missing (the file is left untouched). */
    text: string | undefined;
    /** Fields added, as `type`, `scripts.test`, `dependencies.walrus-stream`. */
    added: string[];
    /** Needed fields the file has with another value than the scaffold's, kept as they are. */
    kept: string[];
  }
  | { error: string };

type Json = Record<string, unknown>;

/** The fields the scaffold needs (its processor is an ES module; its scripts; walrus-stream); name, version and `private` are the project's own. */
const NEEDED = ['type', 'scripts', 'dependencies'] as const;

/** Where a dependency already counts as present: a devDependency of the same package is installed as well. */
const DEPENDENCY_FIELDS = ['dependencies', 'devDependencies'] as const;

/** The test script `npm init` (and `pnpm init`) writes: a placeholder that fails, not a test of the user's. */
const PLACEHOLDER_TEST = 'echo "Error: no test specified" && exit 1';

/** The indentation of the first indented line (two spaces when there is none). */
function indentOf(text: string): string {
  return /\n([ \t]+)\S/.exec(text)?.[1] ?? '  ';
}

/**
 * Merges what the scaffold needs from its `package.json` into the existing
 * file's `text` (read from `shown`, the name used in errors): `type` when
 * missing, and each `scripts` and `dependencies` entry when missing (a
 * dependency listed under `devDependencies` counts). Existing values are
 * never changed, except npm init's placeholder test script, which only
 * fails: the scaffold's test takes its place, and the merge says so.
 */
export function mergePackageJson(text: string, shown: string, scaffold: Json): PackageMerge {
  const bom = text.startsWith('\uFEFF') ? '\uFEFF' : '';
  let pkg: unknown;
  try {
    pkg = JSON.parse(text.slice(bom.length));
  } catch (error) {
    return { error: `${shown} is not valid JSON (${(error as Error).message}); fix it (or move it away) and run init --force again. It was left as it is, and nothing was written` };
  }
  if (!isRecord(pkg)) return { error: `${shown} does not hold a JSON object; fix it (or move it away) and run init --force again. It was left as it is, and nothing was written` };
  for (const field of ['scripts', ...DEPENDENCY_FIELDS]) {
    if (Object.hasOwn(pkg, field) && !isRecord(pkg[field])) {
      return { error: `${shown}: "${field}" is ${JSON.stringify(pkg[field])}, not an object; fix it and run init --force again. It was left as it is, and nothing was written` };
    }
  }
  const added: string[] = [];
  const kept: string[] = [];
  const scripts = pkg.scripts as Json | undefined;
  if (scripts?.test !== undefined && String(scripts.test).trim() === PLACEHOLDER_TEST && isRecord(scaffold.scripts) && scaffold.scripts.test !== undefined) {
    scripts.test = scaffold.scripts.test;
    added.push("scripts.test (in place of npm init's placeholder, which only fails)");
  }
  for (const field of NEEDED) {
    const wanted = scaffold[field];
    if (!isRecord(wanted)) {
      if (!Object.hasOwn(pkg, field)) {
        pkg[field] = wanted;
        added.push(field);
      } else if (pkg[field] !== wanted) kept.push(field);
      continue;
    }
    for (const [key, value] of Object.entries(wanted)) {
      const present = (field === 'dependencies' ? DEPENDENCY_FIELDS : [field]).find((f) => isRecord(pkg[f]) && Object.hasOwn(pkg[f], key));
      if (present !== undefined) {
        if ((pkg[present] as Json)[key] !== value) kept.push(`${present}.${key}`);
        continue;
      }
      if (!Object.hasOwn(pkg, field)) pkg[field] = {};
      (pkg[field] as Json)[key] = value;
      added.push(`${field}.${key}`);
    }
  }
  if (added.length === 0) return { text: undefined, added, kept };
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const json = JSON.stringify(pkg, null, indentOf(text)).replace(/\n/g, eol);
  return { text: bom + json + (/\n\s*$/.test(text) ? eol : ''), added, kept };
}
