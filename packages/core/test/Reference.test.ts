import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Reference from "../src/Reference.js"
import * as Registry from "../src/Registry.js"
import * as Sinks from "../src/Sinks.js"
import * as Sources from "../src/Sources.js"

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
      const schema = Reference.pipelineJsonSchema(yield* Registry.fromPlugins([]))
      const defs = schema.$defs as { readonly [name: string]: unknown }
      const all = refs(schema)
      expect(all.length).toBeGreaterThan(0)
      for (const r of all) expect(Object.keys(defs), r).toContain(r.replace("#/$defs/", ""))
      expect(JSON.stringify(schema.properties).includes('"$schema"')).toBe(false)
    }))

  it("lists source and sink options with types, defaults and descriptions", () => {
    expect(Reference.optionsOf(Sources.jsonl.config)).toEqual([
      { name: "path", type: "string | string[]", required: true, description: expect.stringContaining("glob") },
      { name: "validate", type: '"lmsys" | "none"', required: false, default: "lmsys", description: expect.stringContaining("LMSYS-Chat-1M") },
      { name: "max_line_bytes", type: "integer", required: false, default: Sources.defaultMaxLineBytes, description: expect.stringContaining("Longest line") }
    ])
    const sink = Reference.optionsOf(Sinks.jsonl.config)
    expect(sink.map((o) => [o.name, o.type, o.default])).toEqual([
      ["path", "string", undefined],
      ["compression", '"gzip" | "none"', "gzip"],
      ["gzip_level", "integer", 6],
      ["shard_rows", "integer", Sinks.defaultShardRows],
      ["encrypt", '"none" | "source-key"', undefined],
      ["source_key_from", "string", undefined]
    ])
    for (const o of [...sink, ...Reference.optionsOf(Sinks.parquet.config), ...Reference.optionsOf(Sources.parquet.config)]) {
      expect(o.description, o.name).toBeTruthy()
    }
  })
})
