import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Option, Redacted, Schema } from "effect"
import * as Plugin from "../../src/Plugin.js"
import * as Reference from "../../src/internal/reference.js"
import * as Registry from "../../src/Registry.js"
import * as Sinks from "../../src/io/sinks.js"
import * as Sources from "../../src/io/sources.js"
import * as Stage from "../../src/Stage.js"

/** Every `$ref` string anywhere in a JSON value. */
const refs = (v: unknown): Array<string> =>
  Array.isArray(v)
    ? v.flatMap(refs)
    : typeof v === "object" && v !== null
      ? Object.entries(v).flatMap(([k, x]) => (k === "$ref" && typeof x === "string" ? [x] : refs(x)))
      : []

describe("Reference", () => {
  it.effect("the pipeline JSON Schema resolves every $ref at its root and has one $schema", () =>
    Effect.gen(function* () {
      // A named struct stays a definition; Effect's named primitives (Int, NonEmptyString) are written in place.
      const Endpoint = Schema.Struct({ url: Schema.NonEmptyString, slots: Schema.Int }).annotations({ identifier: "Endpoint" })
      const section = Schema.Struct({ main: Endpoint, spare: Schema.optional(Endpoint) })
      const plugin = Plugin.definePlugin({ name: "p", version: "1.0.0", stages: [], sections: { endpoints: section } })
      const schema = Reference.pipelineJsonSchema(yield* Registry.fromPlugins([{ plugin, specifier: "p" }]))
      const defs = schema.$defs as { readonly [name: string]: unknown }
      const all = refs(schema)
      expect(all).toContain("#/$defs/Endpoint")
      for (const r of all) expect(Object.keys(defs), r).toContain(r.replace("#/$defs/", ""))
      expect(Object.keys(defs)).toEqual(["Endpoint"])
      expect(defs.Endpoint).toMatchObject({ properties: { url: { type: "string", minLength: 1 }, slots: { type: "integer" } } })
      expect(JSON.stringify(schema.properties).includes('"$schema"')).toBe(false)
    }))

  it("reads an option's enum members, bounds and default from its Schema, with no override written", () => {
    const config = Schema.Struct({
      mode: Schema.optionalWith(Schema.Literal("fast", "exact").pipe(Stage.doc("How rows are compared.")), { default: () => "exact" as const }),
      level: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 9), Stage.doc("Compression level.")), { default: () => 6 }),
      ratio: Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThanOrEqualTo(1), Stage.doc("Share of rows kept.")),
      keep: Schema.optional(Schema.Array(Schema.NonEmptyString).pipe(Schema.minItems(1), Stage.doc("Fields kept.", { examples: [["model"]] })))
    })
    expect(Reference.optionsOf(config)).toEqual([
      { name: "mode", type: '"fast" | "exact"', required: false, default: "exact", description: "How rows are compared." },
      { name: "level", type: "integer", required: false, constraints: "1 to 9", default: 6, description: "Compression level." },
      { name: "ratio", type: "number", required: true, constraints: "> 0, ≤ 1", description: "Share of rows kept." },
      { name: "keep", type: "string[]", required: false, constraints: "non-empty, each non-empty", description: "Fields kept." }
    ])
    // The JSON Schema says the same, with the bounds beside the description (draft-07 ignores keywords beside a $ref).
    const schema = Reference.pipelineJsonSchema(Effect.runSync(Registry.fromPlugins([
      { plugin: Plugin.definePlugin({ name: "p", version: "1.0.0", stages: [], sections: { s: config } }), specifier: "p" }
    ])))
    const s = (schema.properties as { readonly s: { readonly properties: { readonly [k: string]: unknown } } }).s.properties
    expect(s.level).toEqual({ type: "integer", minimum: 1, maximum: 9, description: "Compression level.", default: 6 })
    expect(s.ratio).toEqual({ type: "number", exclusiveMinimum: 0, maximum: 1, description: "Share of rows kept." })
    expect(s.keep).toEqual({ type: "array", items: { type: "string", minLength: 1 }, minItems: 1, description: "Fields kept.", examples: [["model"]] })
    // Decode errors keep Effect's wording: the doc is not a `description` annotation.
    const error = Either.getLeft(Schema.decodeUnknownEither(config)({ ratio: 0.5, level: 12 }))
    expect(Option.getOrThrow(error).message).toContain("Expected a number between 1 and 9, actual 12")
  })

  it("a doc never hides a refinement's constraint and the decoder's default wins over a stated one", () => {
    const config = Schema.Struct({
      rows: Schema.Int.pipe(Schema.positive(), Stage.doc("Rows per part.")),
      n: Schema.optionalWith(Schema.NonNegativeInt.pipe(Stage.doc("Answers.")).annotations({ default: 5 }), { default: () => 3 }),
      // A check on the decoded side of a transformation: Effect's JSON Schema reads the encoded side only.
      salt: Schema.optional(Schema.Redacted(Schema.String).pipe(Schema.filter((r) => Redacted.value(r).length >= 8), Stage.doc("Secret key.")))
    })
    expect(Reference.optionsOf(config).map((o) => [o.name, o.type, o.constraints, o.default, o.description])).toEqual([
      ["rows", "integer", "≥ 1", undefined, "Rows per part."],
      ["n", "integer", "≥ 0", 3, "Answers."],
      ["salt", "string", undefined, undefined, "Secret key."]
    ])
  })

  it.effect("the pipeline JSON Schema carries no $id (Effect marks Schema.Unknown with `/schemas/unknown`; twice in one document, validators refuse it)", () =>
    Effect.gen(function* () {
      const section = Schema.Struct({ extra: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })) })
      const plugin = Plugin.definePlugin({ name: "p", version: "1.0.0", stages: [], sections: { a: section, b: section } })
      const schema = Reference.pipelineJsonSchema(yield* Registry.fromPlugins([{ plugin, specifier: "p" }]))
      const text = JSON.stringify(schema)
      expect(text).toContain('"title":"unknown"')
      expect(text).not.toContain('"$id"')
    }))

  it.effect("the pipeline JSON Schema accepts a ${VAR} placeholder where a string must be one of some values", () =>
    Effect.gen(function* () {
      const mode = Schema.Literal("read-write", "off").annotations({ description: "How the cache is used." })
      const plugin = Plugin.definePlugin({ name: "p", version: "1.0.0", stages: [], sections: { c: Schema.Struct({ mode: Schema.optional(mode) }) } })
      const schema = Reference.pipelineJsonSchema(yield* Registry.fromPlugins([{ plugin, specifier: "p" }]))
      const c = (schema.properties as { readonly c: { readonly properties: { readonly mode: { readonly description: string; readonly anyOf: ReadonlyArray<{ readonly enum?: ReadonlyArray<string>; readonly pattern?: string }> } } } }).c
      const { description, anyOf } = c.properties.mode
      expect(description).toBe("How the cache is used.")
      expect(anyOf[0]!.enum).toEqual(["read-write", "off"])
      const pattern = new RegExp(anyOf[1]!.pattern!)
      for (const ok of ["${CACHE_MODE}", "${CACHE_MODE:-read-write}"]) expect(pattern.test(ok), ok).toBe(true)
      for (const bad of ["read-only", "$CACHE_MODE", "${}"]) expect(pattern.test(bad), bad).toBe(false)
      // The options listed in the reference keep their plain type.
      expect(Reference.optionsOf(Schema.Struct({ mode })).map((o) => o.type)).toEqual(['"read-write" | "off"'])
    }))

  it("lists source and sink options with types, defaults and descriptions", () => {
    expect(Reference.optionsOf(Sources.jsonl.config)).toEqual([
      {
        name: "path",
        type: "string | string[]",
        required: true,
        constraints: "string: non-empty; string[]: non-empty, each non-empty",
        description: expect.stringContaining("glob")
      },
      { name: "validate", type: '"lmsys" | "none"', required: false, default: "lmsys", description: expect.stringContaining("LMSYS-Chat-1M") },
      {
        name: "max_line_bytes",
        type: "integer",
        required: false,
        constraints: "≥ 1",
        default: Sources.defaultMaxLineBytes,
        description: expect.stringContaining("Longest line")
      },
      {
        name: "unit_rows",
        type: "integer",
        required: false,
        constraints: "≥ 1",
        default: Sources.defaultUnitRows,
        description: expect.stringContaining("gzip file is one unit")
      }
    ])
    const sink = Reference.optionsOf(Sinks.jsonl.config)
    expect(sink.map((o) => [o.name, o.type, o.default])).toEqual([
      ["path", "string", undefined],
      ["compression", '"gzip" | "none"', "gzip"],
      ["gzip_level", "integer", 6],
      ["shard_rows", "integer", Sinks.defaultShardRows]
    ])
    expect(sink.find((o) => o.name === "gzip_level")?.constraints).toBe("1 to 9")
    for (const o of [...sink, ...Reference.optionsOf(Sinks.parquet.config), ...Reference.optionsOf(Sources.parquet.config)]) {
      expect(o.description, o.name).toBeTruthy()
    }
  })

  it("shows the defaults the decoder fills in, in their encoded form, without a default annotation", () => {
    const Seconds = Schema.transform(Schema.Number, Schema.DurationFromSelf, {
      strict: true,
      decode: (n) => Duration.seconds(n),
      encode: (d) => Duration.toSeconds(d)
    })
    const config = Schema.Struct({
      model: Schema.String,
      n: Schema.optionalWith(Schema.Int.pipe(Schema.positive()).annotations({ description: "Answers per row." }), { default: () => 3 }),
      skip_if: Schema.optionalWith(Schema.Array(Schema.String), { default: () => ["empty"] }),
      timeout: Schema.optionalWith(Seconds, { default: () => Duration.minutes(2) }),
      note: Schema.optional(Schema.String)
    }).pipe(Schema.filter((c) => c.n < 10 || "at most 9 answers"))
    expect(Reference.optionsOf(config).map((o) => [o.name, o.required, o.default])).toEqual([
      ["model", true, undefined],
      ["n", false, 3],
      ["skip_if", false, ["empty"]],
      ["timeout", false, 120],
      ["note", false, undefined]
    ])
    expect(Reference.optionsOf(config).find((o) => o.name === "n")?.description).toBe("Answers per row.")
  })

  it.effect("the JSON Schema carries the defaults of nested options too (a list's entries, a map's values)", () =>
    Effect.gen(function* () {
      const Entry = Schema.Struct({ path: Schema.String, field: Schema.optionalWith(Schema.String, { default: () => "turns" }) })
      const config = Schema.Struct({
        list: Schema.Array(Entry),
        byName: Schema.optional(Schema.Record({ key: Schema.String, value: Entry }))
      })
      const plugin = Plugin.definePlugin({ name: "p", version: "1.0.0", stages: [], sections: { s: config } })
      const schema = Reference.pipelineJsonSchema(yield* Registry.fromPlugins([{ plugin, specifier: "p" }]))
      expect(schema.properties).toMatchObject({
        s: {
          properties: {
            list: { items: { properties: { field: { type: "string", default: "turns" } } } },
            byName: { additionalProperties: { properties: { field: { type: "string", default: "turns" } } } }
          }
        }
      })
    }))

  it("documents the entries of a map-shaped section (name → options)", () => {
    const section = Schema.Record({
      key: Schema.String,
      value: Schema.Struct({ url: Schema.String, concurrency: Schema.optionalWith(Schema.Int, { default: () => 32 }) })
    })
    expect(Reference.optionsOf(section)).toEqual([])
    const value = Reference.mapValueOf(section)
    expect(value === undefined ? undefined : Reference.optionsOf(value).map((o) => [o.name, o.default])).toEqual([
      ["url", undefined],
      ["concurrency", 32]
    ])
    expect(Reference.mapValueOf(Schema.Struct({ a: Schema.String }))).toBeUndefined()
  })
})
