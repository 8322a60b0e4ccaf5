/** Test support: temporary folders inside the package, and JSON lines files. */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { join } from "node:path"

/** A temporary folder under test/.tmp (inside the repo, so local plugins resolve workspace packages). */
export const tempDir = (name: string): string => {
  mkdirSync(join(import.meta.dirname, ".tmp"), { recursive: true })
  return mkdtempSync(join(import.meta.dirname, ".tmp", `${name}-`))
}

/** Writes rows as a JSON lines file and returns its path. */
export const writeJsonl = (file: string, rows: ReadonlyArray<unknown>): string => {
  writeFileSync(file, `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`)
  return file
}

/** A deterministic pseudo-random word text of `n` words (a stand-in for pasted material). */
export const pseudoText = (seed: number, n: number): string => {
  const vocab = [
    "river", "market", "engine", "garden", "signal", "harbor", "ledger", "window", "copper", "meadow", "orbit", "canvas",
    "lantern", "pepper", "quartz", "saddle", "timber", "velvet", "walnut", "yonder", "anchor", "beacon", "cobalt", "dune",
    "ember", "falcon", "glacier", "hollow", "island", "jasper", "kernel", "lagoon", "mosaic", "nectar", "onyx", "prairie",
    "quiver", "ripple", "summit", "tundra", "umber", "vertex", "willow", "zephyr", "basalt", "cinder", "delta", "fjord"
  ]
  let s = seed >>> 0
  const out: Array<string> = []
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    out.push(vocab[s % vocab.length]!)
  }
  return out.join(" ")
}
