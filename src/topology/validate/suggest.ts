/**
 * "Did you mean" for unknown keys, enum values and references: the closest
 * candidate by optimal-string-alignment (Damerau–Levenshtein) distance, when
 * it is close enough to be a likely typo rather than a different word.
 */

/** Edit distance counting insertions, deletions, substitutions and adjacent transpositions. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => {
    const row = new Array<number>(cols).fill(0);
    row[0] = i;
    return row;
  });
  for (let j = 0; j < cols; j += 1) d[0]![j] = j;
  for (let i = 1; i < rows; i += 1) {
    for (let j = 1; j < cols; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate `word` most likely meant, or undefined when none is close. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const lower = word.toLowerCase().replace(/[-_]/g, '');
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    // Case and separators are the commonest slips (dead_letter, DeadLetter): treat them as exact.
    const folded = candidate.toLowerCase().replace(/[-_]/g, '');
    // A word that only adds or drops a suffix (keyed → key, jsonn → json) is as good as one edit.
    const affix = folded.length >= 3 && lower.length >= 3 && (lower.startsWith(folded) || folded.startsWith(lower));
    const distance = folded === lower ? 0 : affix ? 1 : editDistance(word, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const allowed = Math.max(1, Math.floor(Math.min(word.length, best?.length ?? 0) / 3));
  return best !== undefined && bestDistance <= allowed ? best : undefined;
}

/** ` — did you mean "x"?` or the empty string. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const match = closest(word, candidates);
  return match === undefined ? '' : ` — did you mean "${match}"?`;
}
