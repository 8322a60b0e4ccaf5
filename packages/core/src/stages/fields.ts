/** `core/fields`: keeps, drops and renames top-level fields. */
import { Effect, Schema } from "effect"
import { doc, make, mapChunks } from "../internal/stage.js"
import { origin, type Row, withOrigin } from "../Row.js"
import type { Stage } from "../Stage.js"
import { FieldName, put } from "./shared.js"

const FieldsConfigSchema = Schema.Struct({
  keep: Schema.optionalWith(
    Schema.Array(FieldName).pipe(Schema.minItems(1), doc("Top-level fields to keep; every other field is removed. Applied first.")),
    { exact: true }
  ),
  drop: Schema.optionalWith(
    Schema.Array(FieldName).pipe(doc("Top-level fields to remove. Applied after `keep`.")),
    { exact: true }
  ),
  rename: Schema.optionalWith(
    Schema.Record({ key: FieldName, value: FieldName }).pipe(
      doc("Top-level fields to rename, `{ from: to }`; a renamed field keeps its position. Applied last.")
    ),
    { exact: true }
  )
}).pipe(
  Schema.filter((c) => {
    const seen = new Map<string, string>()
    for (const [from, to] of Object.entries(c.rename ?? {})) {
      const other = seen.get(to)
      if (other !== undefined) return `rename maps both \`${other}\` and \`${from}\` to \`${to}\``
      seen.set(to, from)
    }
    return true
  })
)

/** Options of `core/fields`, decoded. */
export type FieldsConfig = typeof FieldsConfigSchema.Type
/** Options of `core/fields`, as written in a pipeline file. */
export type FieldsOptions = typeof FieldsConfigSchema.Encoded

/**
 * `core/fields`: keeps, drops and renames top-level fields, in that order. Renames apply at
 * once (so `{a: b, b: a}` swaps); a renamed value replaces a field already named like its
 * target; renaming a missing field does nothing. Rows keep their origin.
 */
export const fields: Stage<FieldsConfig, Row, Row, never, FieldsOptions> = make({
  id: "core/fields",
  description: "Keep, drop and rename top-level fields.",
  config: FieldsConfigSchema,
  requires: [],
  reads: (config) => Object.keys(config.rename ?? {}),
  keeps: (config) => config.keep,
  provides: (config) => Object.values(config.rename ?? {}),
  removes: (config) => {
    const rename = config.rename ?? {}
    const targets = new Set(Object.values(rename))
    return [...new Set([...(config.drop ?? []), ...Object.keys(rename).filter((from) => !targets.has(from))])]
  },
  make: (config) => {
    const keep = config.keep && new Set(config.keep)
    const drop = new Set(config.drop ?? [])
    const rename = new Map(Object.entries(config.rename ?? {}))
    const sourceOf = new Map([...rename].map(([from, to]) => [to, from]))
    const survives = (row: Row, key: string): boolean =>
      Object.hasOwn(row, key) && (keep === undefined || keep.has(key)) && !drop.has(key)
    return Effect.succeed(
      mapChunks<Row, Row>((row) => {
        const out: { [key: string]: unknown } = {}
        for (const key of Object.keys(row)) {
          if (!survives(row, key)) continue
          const to = rename.get(key)
          if (to !== undefined) {
            put(out, to, row[key])
            continue
          }
          const from = sourceOf.get(key)
          if (from !== undefined && survives(row, from)) continue
          put(out, key, row[key])
        }
        const from = origin(row)
        return from === undefined ? out : withOrigin(out, from)
      })
    )
  }
})
