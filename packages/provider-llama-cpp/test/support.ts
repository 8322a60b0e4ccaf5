/** Test support: temporary folders, the tiny model on disk, a model client over it. */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { CacheSection, ModelsSection } from "@synthline/llm/Config"
import { make, type ModelsService } from "@synthline/llm/Models"
import { Effect, type Scope, Schema } from "effect"
import { llamaCpp } from "../src/LlamaCppPlugin.js"
import * as TinyModel from "./support/TinyModel.js"

/** A temporary folder under test/.tmp. */
export const tempDir = (name: string): string => {
  mkdirSync(join(import.meta.dirname, ".tmp"), { recursive: true })
  return mkdtempSync(join(import.meta.dirname, ".tmp", `${name}-`))
}

/** Writes the tiny model into `dir` and returns its file name. */
export const writeTinyModel = (dir: string, seed = 42): string => {
  const file = join(dir, `tiny-${seed}.gguf`)
  writeFileSync(file, TinyModel.make({ seed }))
  return file
}

/** Builds a client with the llama-cpp provider from pipeline-file-shaped sections (decoded like a pipeline file). */
export const client = (
  models: unknown,
  options: { readonly cache?: unknown; readonly dir: string }
): Effect.Effect<ModelsService, never, Scope.Scope> =>
  make({
    models: Schema.decodeUnknownSync(ModelsSection)(models),
    cache: Schema.decodeUnknownSync(CacheSection)(options.cache ?? { mode: "off" }),
    baseDir: options.dir,
    env: {},
    providers: [llamaCpp]
  })

/** Runs a scoped effect as a promise. */
export const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>): Promise<A> => Effect.runPromise(Effect.scoped(effect))
