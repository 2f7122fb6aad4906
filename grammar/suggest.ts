/** "did you mean" suggestions by edit distance. */

export function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return Math.abs(a.length - b.length);
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The closest candidate within a distance that scales with the word's length, if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const limit = word.length <= 3 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance && d > 0) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

const DECLARATION_WORDS = ["import", "config", "preset", "module", "model", "train"];

export function suggestKeyword(word: string): string | undefined {
  return /^[A-Za-z_]\w*$/.test(word) ? closest(word, DECLARATION_WORDS) : undefined;
}
