/** Helpers the built-in `core` stages share: field rejects, option Schemas, the chunk of kept rows, the central decider. */
import { Chunk, Effect, Schema } from "effect"
import { StageError } from "../Errors.js"
import { describeValue, getPath, parsePath, type Row } from "../Row.js"
import type { StageContext } from "../Stage.js"

export const isArray = (u: unknown): u is ReadonlyArray<unknown> => Array.isArray(u)


/** Rejects a row because of a field and returns `undefined` (for `mapChunks`). */
export const rejectField = (ctx: StageContext, row: Row, field: string, expected: string): undefined => {
  ctx.reject(row, `field \`${field}\` is ${describeValue(getPath(row, parsePath(field)))}; expected ${expected}`)
  return undefined
}

/** Sets an own property, also for the key `__proto__` (which plain assignment would not). */
export const put = (target: { [key: string]: unknown }, key: string, value: unknown): void => {
  if (key === "__proto__") Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  else target[key] = value
}

export const NonEmptyStrings = Schema.Array(Schema.String).pipe(Schema.minItems(1))

export const PositiveInt = Schema.Int.pipe(Schema.positive())

/** A top-level field name (no dots: `core/fields` does not reach into nested objects). */
export const FieldName = Schema.String.pipe(
  Schema.filter((s) => (s.length > 0 && !s.includes(".")) || `expected a top-level field name, got ${JSON.stringify(s)}`, {
    jsonSchema: { pattern: "^[^.]+$" }
  })
)

/** The rows of a chunk the stage kept. */
export const present = (rows: ReadonlyArray<Row | undefined>): Chunk.Chunk<Row> =>
  Chunk.unsafeFromArray(rows.filter((r): r is Row => r !== undefined))

/** The stage's `decide`, or a clear error when the stage is made outside a run that provides one. */
export const deciderOf = (ctx: StageContext): Effect.Effect<(request: unknown) => Effect.Effect<unknown, StageError>, StageError> =>
  ctx.decide !== undefined
    ? Effect.succeed(ctx.decide)
    : Effect.fail(new StageError({ stage: ctx.stageId, reason: "this stage keeps run-wide state and needs a runner that provides decide" }))
