/**
 * A team plugin as users write them: ACME's keyword filter. It drops (or routes) conversations
 * whose first user instruction mentions a term from the team's block list, and can tag rows
 * that mention a watched term. Loaded from a pipeline file as a local `.ts` file, no build:
 *
 *   plugins: ["./plugins/acme-keywords.ts"]
 *   stages:
 *     - use: acme/keyword-filter
 *       block: [internal-codename, "confidential"]
 */
import { Effect, Schema } from "effect"
import { definePlugin, Stage } from "@synthline/core"

// Stage.doc gives the text `synthline stages` and the docs show; types and defaults come from the Schema.
const Config = Schema.Struct({
  block: Schema.Array(Schema.String).pipe(Stage.doc("Terms that drop a conversation (case-insensitive, whole words).")),
  watch: Schema.optionalWith(Schema.Array(Schema.String).pipe(Stage.doc("Terms that only tag a conversation in `acme_watch`.")), {
    default: () => []
  }),
  field: Schema.optionalWith(Schema.String.pipe(Stage.doc("Dotted path of the text to check.")), {
    default: () => "conversation.0.content"
  })
})

const pattern = (terms: ReadonlyArray<string>): RegExp | undefined =>
  terms.length === 0
    ? undefined
    : new RegExp(`(?<![\\p{L}\\p{N}])(${terms.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})(?![\\p{L}\\p{N}])`, "iu")

/** acme/keyword-filter: drops conversations that mention a blocked term. */
export const keywordFilter = Stage.make({
  id: "acme/keyword-filter",
  description: "Drops conversations whose text mentions a blocked term; tags watched terms in acme_watch.",
  config: Config,
  requires: ["conversation"],
  provides: ["acme_watch"],
  make: (config, ctx) => {
    const block = pattern(config.block)
    const watch = pattern(config.watch)
    const keys = config.field.split(".")
    return Effect.succeed(
      Stage.mapChunks((row) => {
        let text: unknown = row
        for (const k of keys) text = typeof text === "object" && text !== null ? (text as Record<string, unknown>)[k] : undefined
        if (typeof text !== "string") {
          ctx.reject(row, `acme/keyword-filter: ${config.field} is not a string`)
          return undefined
        }
        const hit = block?.exec(text)
        if (hit) {
          ctx.drop(row, `keyword:${hit[1]!.toLowerCase()}`)
          return undefined
        }
        const w = watch?.exec(text)
        return { ...row, acme_watch: w ? w[1]!.toLowerCase() : null }
      })
    )
  }
})

export default definePlugin({
  name: "acme",
  version: "1.0.0",
  stages: [keywordFilter]
})
