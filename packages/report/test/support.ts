/** Test support: temp folders and a copy of a real run's output folder (its manifest). */
import { copyFileSync, mkdirSync, mkdtempSync } from "node:fs"
import { join } from "node:path"

/** A temporary folder under test/.tmp. */
export const tempDir = (name: string): string => {
  mkdirSync(join(import.meta.dirname, ".tmp"), { recursive: true })
  return mkdtempSync(join(import.meta.dirname, ".tmp", `${name}-`))
}

/**
 * A folder holding `manifest.json` of a real run (written by plugin-synth's Quality test: sample
 * data, core/select, generate, check-answers, two judges) and a dataset card.
 */
export const runFolder = (name: string): string => {
  const dir = tempDir(name)
  copyFileSync(join(import.meta.dirname, "fixtures/manifest.json"), join(dir, "manifest.json"))
  return dir
}
