import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * The docs link to each other and to files of the repository. A relative link
 * to a file that is not there, or to a heading that does not exist (GitHub's
 * anchors, computed from the heading text), fails here instead of on a reader.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function docFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs')).filter((n) => n.endsWith('.md')).map((n) => join(ROOT, 'docs', n));
  return [join(ROOT, 'README.md'), ...docs];
}

/** The text outside fenced code blocks and inline code, where links are links. */
function prose(markdown: string): string {
  return markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, (block) => block.replace(/[^\n]/g, '')) // keep line numbers
    .replace(/`[^`\n]*`/g, '');
}

/** GitHub's heading anchor: lower case, punctuation dropped (not `-` or `_`), spaces to `-`. */
export function githubSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/(?<!\\)<[^>]+>/g, '') // inline HTML tags (GitHub drops them, text and all)
    .replace(/\\(.)/g, '$1') // backslash escapes: the character itself
    .replace(/[*`]/g, '') // emphasis and code markers
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}\p{M} _-]/gu, '').replace(/ /g, '-');
}

/** Every anchor a file offers: heading slugs (with GitHub's -1, -2 for repeats) and explicit `<a id|name>`. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const counts = new Map<string, number>();
  const withoutFences = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const match of withoutFences.matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const base = githubSlug(match[1]!);
    const seen = counts.get(base) ?? 0;
    counts.set(base, seen + 1);
    anchors.add(seen === 0 ? base : `${base}-${seen}`);
  }
  for (const match of markdown.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(match[1]!);
  return anchors;
}

interface Link { file: string; line: number; target: string }

function relativeLinks(file: string): Link[] {
  const text = prose(readFileSync(file, 'utf8'));
  const links: Link[] = [];
  text.split('\n').forEach((lineText, i) => {
    for (const match of lineText.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = match[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
      links.push({ file, line: i + 1, target });
    }
  });
  return links;
}

function brokenLinks(files: readonly string[]): string[] {
  const anchorCache = new Map<string, Set<string>>();
  const anchors = (path: string): Set<string> => {
    let set = anchorCache.get(path);
    if (set === undefined) { set = anchorsOf(readFileSync(path, 'utf8')); anchorCache.set(path, set); }
    return set;
  };
  const broken: string[] = [];
  for (const file of files) {
    for (const link of relativeLinks(file)) {
      const [rawPath = '', rawAnchor] = link.target.split('#', 2);
      const path = decodeURIComponent(rawPath);
      const where = `${relative(ROOT, file)}:${link.line}: ${link.target}`;
      const target = path === '' ? file : resolve(dirname(file), path);
      if (!existsSync(target)) { broken.push(`${where} (no such file)`); continue; }
      if (rawAnchor === undefined || rawAnchor === '') continue;
      if (statSync(target).isDirectory() || !target.endsWith('.md')) { broken.push(`${where} (an anchor into a file that is not markdown)`); continue; }
      if (!anchors(target).has(decodeURIComponent(rawAnchor).toLowerCase())) broken.push(`${where} (no such heading)`);
    }
  }
  return broken;
}

test('every relative link in README.md and docs/*.md points at a file and heading that exist', () => {
  const files = docFiles();
  assert.ok(files.length >= 10, `found only ${files.length} docs`);
  assert.ok(files.flatMap(relativeLinks).length > 30, 'found too few links: is the link parser still working?');
  assert.deepEqual(brokenLinks(files), []);
});

test('heading anchors follow GitHub', () => {
  assert.equal(githubSlug('Leases: `BATCH_LEASE` / `ACK`'), 'leases-batch_lease--ack');
  assert.equal(githubSlug('A record\'s path from source to sink'), 'a-records-path-from-source-to-sink');
  assert.equal(githubSlug('Declarative aggregations in the topology'), 'declarative-aggregations-in-the-topology');
  assert.equal(githubSlug('count / reduce / aggregate — anywhere a state view is'), 'count--reduce--aggregate--anywhere-a-state-view-is');
  assert.equal(githubSlug('Replaying dead letters: `walrus-stream dlq replay`'), 'replaying-dead-letters-walrus-stream-dlq-replay');
  assert.equal(githubSlug('sources.\\<name\\>.poll'), 'sourcesnamepoll');
  assert.deepEqual([...anchorsOf('# Usage\n## Usage\n```\n# not a heading\n```\n## Usage\n')], ['usage', 'usage-1', 'usage-2']);
});

test('the checker reports a missing file, a missing heading and ignores code and URLs', async (t) => {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'walrus-doc-links-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'other.md'), '# Other\n## Known part\n');
  const doc = join(dir, 'doc.md');
  await writeFile(doc, [
    '# Doc', '## Here',
    '[ok](other.md#known-part) [self](#here) [web](https://example.com/x#y)',
    '[gone](missing.md) [bad anchor](other.md#unknown) [bad self](#nowhere)',
    '`[in code](nope.md)`', '```', '[in a fence](nope.md)', '```',
  ].join('\n'));
  const broken = brokenLinks([doc]).map((b) => b.replace(/^.*doc\.md:/, ''));
  assert.deepEqual(broken, [
    '4: missing.md (no such file)',
    '4: other.md#unknown (no such heading)',
    '4: #nowhere (no such heading)',
  ]);
});

test('names the docs import from the package entry are exported by it', async () => {
  const entry = await import('../../src/index.js') as Record<string, unknown>;
  const missing: string[] = [];
  for (const file of docFiles()) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'walrus-stream'/g)) {
      for (const raw of match[1]!.split(',')) {
        const name = raw.trim().split(/\s+as\s+/)[0]!;
        if (name === '' || name.startsWith('type ')) continue;
        if (!(name in entry)) missing.push(`${relative(ROOT, file)}: ${name}`);
      }
    }
  }
  assert.deepEqual(missing, []);
});
