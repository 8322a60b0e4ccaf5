/** "Did you mean" suggestions: the nearest candidate by edit distance, for errors in plugins and pipeline files. */

const distance = (a: string, b: string): number => {
  const prev = new Array<number>(b.length + 1)
  for (let j = 0; j <= b.length; j++) prev[j] = j
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!
    prev[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1))
      diag = tmp
    }
  }
  return prev[b.length]!
}

/** The candidate nearest to `name`, if it is close enough to be a plausible typo. */
export const nearest = (name: string, candidates: Iterable<string>): string | undefined => {
  let best: string | undefined
  let bestD = Number.POSITIVE_INFINITY
  for (const c of candidates) {
    const d = distance(name.toLowerCase(), c.toLowerCase())
    if (d < bestD) {
      bestD = d
      best = c
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined
}

/** ` — did you mean X?` or the empty string. */
export const didYouMean = (name: string, candidates: Iterable<string>): string => {
  const n = nearest(name, candidates)
  return n === undefined ? "" : ` — did you mean ${n}?`
}
