/** Test support: a model client over local test servers, run as a promise. */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, type Scope, Schema } from "effect"
import type { UsageRegistry } from "@synthline/core/Plugin"
import { CacheSection, ModelsSection } from "../src/Config.js"
import { make, type ModelsService } from "../src/Models.js"
import type * as Provider from "../src/Provider.js"

/** A temporary folder under test/.tmp. */
export const tempDir = (name: string): string => {
  mkdirSync(join(import.meta.dirname, ".tmp"), { recursive: true })
  return mkdtempSync(join(import.meta.dirname, ".tmp", `${name}-`))
}

/** Builds a client from pipeline-file-shaped sections (decoded like a pipeline file). */
export const client = (
  models: unknown,
  options: {
    readonly cache?: unknown
    readonly dir?: string
    readonly env?: { [k: string]: string }
    readonly usage?: UsageRegistry
    readonly providers?: ReadonlyArray<Provider.Definition>
  } = {}
): Effect.Effect<ModelsService, never, Scope.Scope> =>
  make({
    models: Schema.decodeUnknownSync(ModelsSection)(models),
    cache: Schema.decodeUnknownSync(CacheSection)(options.cache ?? { mode: "off" }),
    baseDir: options.dir ?? tempDir("client"),
    env: options.env ?? {},
    ...(options.usage !== undefined ? { usage: options.usage } : {}),
    providers: options.providers
  })

/** Runs a scoped effect as a promise. */
export const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>): Promise<A> => Effect.runPromise(Effect.scoped(effect))

/** A one-message request. */
export const ask = (content: string, extra: { seed?: number; max_tokens?: number } = {}) => ({
  messages: [{ role: "user", content }],
  ...extra
})

/**
 * The prompt `llm/complete` sends for the first user message ("Reply to: …") of every row of
 * each JSON-lines sample file in `dir`, by file in name order.
 */
export const firstTurns = (dir: string): Array<Set<string>> =>
  readdirSync(dir)
    .filter((f) => f.endsWith(".jsonl"))
    .sort()
    .map((f) => {
      const texts = new Set<string>()
      for (const line of readFileSync(join(dir, f), "utf8").split("\n")) {
        if (line.trim() === "") continue
        const row = JSON.parse(line) as { conversation: Array<{ content: string }> }
        texts.add(`Reply to: ${row.conversation[0]!.content}`)
      }
      return texts
    })
