/**
 * Test helpers for the IO tests: temporary folders, LMSYS-shaped rows, a parquet writer with the
 * published LMSYS-Chat-1M schema (nested list<struct>, INT64 turn), and a runner that plans and
 * reads a whole source.
 */
import type { FileSystem, Path } from "@effect/platform"
import { Chunk, Effect, Schema, Stream } from "effect"
import type { SchemaElement } from "hyparquet"
import { parquetWriteBuffer } from "hyparquet-writer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import type { SourceError } from "../../src/Errors.js"
import { type LmsysRecord, ModerationResult, moderationCategories } from "../../src/Record.js"
import type { Row } from "../../src/Row.js"
import type { SourceDefinition, SourceReject, WorkUnit } from "../../src/Source.js"

/** A fresh temporary folder. */
export const tempDir = (): string => fs.mkdtempSync(nodePath.join(os.tmpdir(), "synthline-io-"))

/** Writes a file, creating its folders. */
export const writeFile = (file: string, data: string | Uint8Array): void => {
  fs.mkdirSync(nodePath.dirname(file), { recursive: true })
  fs.writeFileSync(file, data)
}

const decodeModeration = Schema.decodeUnknownSync(ModerationResult)

const moderation = (seed: number, flagged: boolean): LmsysRecord["openai_moderation"][number] => {
  const categories: { [key: string]: boolean } = {}
  const scores: { [key: string]: number } = {}
  moderationCategories.forEach((c, j) => {
    categories[c] = flagged && j === 0
    scores[c] = ((seed * 31 + j * 7) % 1000) / 1e6 + 1e-9 * j
  })
  return decodeModeration({ categories, category_scores: scores, flagged })
}

/** An LMSYS-Chat-1M row; `content` overrides the first message. */
export const lmsysRow = (i: number, content?: string): LmsysRecord => ({
  conversation_id: `conv-${String(i).padStart(6, "0")}`,
  model: i % 3 === 0 ? "vicuna-13b" : "koala-13b",
  conversation: [
    { role: "user", content: content ?? `Question ${i}: ünïcödé ✓ "quotes" \\ back` },
    { role: "assistant", content: `Answer ${i}` }
  ],
  turn: 1 + (i % 3),
  language: i % 2 === 0 ? "English" : "Japanese",
  openai_moderation: [moderation(i, i % 5 === 0), moderation(i + 1, false)],
  redacted: i % 4 === 0
})

const utf8 = (name: string): SchemaElement => ({ name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" })

const structOf = (name: string, type: "BOOLEAN" | "DOUBLE"): Array<SchemaElement> => [
  { name, repetition_type: "OPTIONAL", num_children: moderationCategories.length },
  ...moderationCategories.map((c): SchemaElement => ({ name: c, type, repetition_type: "OPTIONAL" }))
]

/** The LMSYS-Chat-1M parquet schema as pyarrow writes it (every field OPTIONAL). */
export const lmsysParquetSchema: Array<SchemaElement> = [
  { name: "schema", num_children: 7 },
  utf8("conversation_id"),
  utf8("model"),
  { name: "conversation", repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
  { name: "list", repetition_type: "REPEATED", num_children: 1 },
  { name: "element", repetition_type: "OPTIONAL", num_children: 2 },
  utf8("content"),
  utf8("role"),
  { name: "turn", type: "INT64", repetition_type: "OPTIONAL" },
  utf8("language"),
  { name: "openai_moderation", repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
  { name: "list", repetition_type: "REPEATED", num_children: 1 },
  { name: "element", repetition_type: "OPTIONAL", num_children: 3 },
  ...structOf("categories", "BOOLEAN"),
  ...structOf("category_scores", "DOUBLE"),
  { name: "flagged", type: "BOOLEAN", repetition_type: "OPTIONAL" },
  { name: "redacted", type: "BOOLEAN", repetition_type: "OPTIONAL" }
]

/** Writes LMSYS rows as a parquet file with the published schema, `rowGroupSize` rows per row group. */
export const writeLmsysParquet = (file: string, rows: ReadonlyArray<LmsysRecord>, rowGroupSize: number): void => {
  const col = <K extends keyof LmsysRecord>(name: K, map?: (v: LmsysRecord[K]) => unknown) => ({
    name,
    data: rows.map((r) => (map === undefined ? r[name] : map(r[name])))
  })
  const buffer = parquetWriteBuffer({
    schema: lmsysParquetSchema,
    columnData: [
      col("conversation_id"),
      col("model"),
      col("conversation"),
      col("turn", (t) => BigInt(t)),
      col("language"),
      col("openai_moderation"),
      col("redacted")
    ],
    rowGroupSize
  })
  writeFile(file, new Uint8Array(buffer))
}

/** What reading a whole source gave. */
export interface SourceResult {
  readonly units: ReadonlyArray<WorkUnit>
  readonly rows: ReadonlyArray<Row>
  readonly rejects: ReadonlyArray<SourceReject>
}

/** Decodes `options` with the source's config Schema, plans, and reads every unit in order. */
export const readAll = <C>(
  source: SourceDefinition<C>,
  options: unknown,
  baseDir: string,
  columns?: ReadonlyArray<string>
): Effect.Effect<SourceResult, SourceError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const config = Schema.decodeUnknownSync(source.config)(options)
    const env = { baseDir, columns }
    const units = yield* source.plan(config, env)
    const rows: Array<Row> = []
    const rejects: Array<SourceReject> = []
    for (const unit of units) {
      const got = yield* Stream.runCollect(source.read(unit, config, { reject: (r) => rejects.push(r) }, env))
      rows.push(...Chunk.toReadonlyArray(got))
    }
    return { units, rows, rejects }
  })

/** Rows as their JSON form (what a user sees in output files). */
export const asJson = (rows: ReadonlyArray<unknown>): Array<unknown> => rows.map((r) => JSON.parse(JSON.stringify(r)))
