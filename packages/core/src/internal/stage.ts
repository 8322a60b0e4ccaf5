/**
 * The runtime helpers of the Stage module (`make`, `mapChunks`, `doc`, `NoConfig`), kept below
 * `Stage.ts` so the built-in stages (`src/stages/`) and IO (`src/io/`) can use them while
 * `Stage.ts`, `Source.ts` and `Sink.ts` re-export those built-ins without an import cycle.
 */
import { Chunk, JSONSchema, Option, Schema, SchemaAST, Stream } from "effect"
import type { Row } from "../Row.js"
import type { Stage, Transform } from "../Stage.js"

/** Defines a stage; the identity function, there for inference. */
export const make = <Config, In extends Row = Row, Out extends Row = Row, R = never, ConfigInput = Config>(
  stage: Stage<Config, In, Out, R, ConfigInput>
): Stage<Config, In, Out, R, ConfigInput> => stage

/**
 * Builds a per-row transform that runs on whole chunks: `f` returns the new row, or
 * `undefined` when it dropped or rejected the row through the context.
 */
export const mapChunks =
  <In extends Row, Out extends Row>(f: (row: In) => Out | undefined): Transform<In, Out> =>
  (rows) =>
    rows.pipe(
      Stream.mapChunks((chunk) => {
        const out: Array<Out> = []
        for (const row of chunk) {
          const r = f(row)
          if (r !== undefined) out.push(r)
        }
        return Chunk.unsafeFromArray(out)
      })
    )

/** An empty config Schema for stages without options. */
export const NoConfig: Schema.Struct<{}> = Schema.Struct({})

/** What {@link doc} adds to an option's Schema: what a Schema cannot say itself. */
export interface OptionDoc {
  /** Example values, written as in a pipeline file (shown by editors). */
  readonly examples?: ReadonlyArray<unknown>
}

/**
 * Documents an option of a stage, source, sink or section for `synthline stages`, `synthline
 * schema` and the reference pages. Give only what the Schema cannot say (the description,
 * examples): its type, enum members, bounds, patterns, element types and default are read from
 * the Schema by the Reference module, so they are not restated here.
 *
 * The text goes into the Schema's `jsonSchema` annotation, merged with the one a refinement
 * carries (`minItems`, `exclusiveMinimum`, ...) so its constraint stays in the JSON Schema; a
 * `description` annotation would instead replace the wording of decode errors. A check on the
 * decoded side of a transformation (a `Redacted` salt of at least 8 characters) has no JSON
 * Schema of its own: there the JSON Schema of the encoded side is written out with the text.
 *
 * @example
 * import { Stage } from "@synthline/core"
 * import { Schema } from "effect"
 *
 * const Options = Schema.Struct({
 *   level: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 9), Stage.doc("gzip compression level.")), { default: () => 6 })
 * })
 */
export const doc =
  (description: string, options: OptionDoc = {}) =>
  <S extends Schema.Annotable.All>(self: S): Schema.Annotable.Self<S> =>
    self.annotations({
      jsonSchema: {
        ...ownJsonSchema(self.ast),
        description,
        ...(options.examples === undefined ? {} : { examples: options.examples })
      }
    })

/** The encoded side of the transformation under a chain of refinements, if there is one. */
const transformationFrom = (ast: SchemaAST.AST): SchemaAST.AST | undefined =>
  SchemaAST.isTransformation(ast) ? ast.from : SchemaAST.isRefinement(ast) ? transformationFrom(ast.from) : SchemaAST.isSuspend(ast) ? transformationFrom(ast.f()) : undefined

/**
 * The JSON Schema keywords a Schema's node carries itself. Effect reads a refinement of a
 * transformation from the transformation's encoded side and ignores the refinement's own
 * `jsonSchema` (unless it is a whole schema), so there it is that side's JSON Schema.
 */
const ownJsonSchema = (ast: SchemaAST.AST): object => {
  const encoded = SchemaAST.isRefinement(ast) ? transformationFrom(ast.from) : undefined
  if (encoded !== undefined) {
    const { $schema: _, ...js } = JSONSchema.make(Schema.make(encoded))
    if (!("$defs" in js)) return js
  }
  return Option.getOrElse(SchemaAST.getJSONSchemaAnnotation(ast), () => ({}))
}
