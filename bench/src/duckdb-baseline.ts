/**
 * The DuckDB baseline, run as its own process by the harness (so its wall time and peak RSS
 * are measured exactly like the CLI's): read the parquet files → keep English and Japanese →
 * drop conversations with any flagged message (moderation/filter's default) → keep the first
 * turn → write gzip JSON lines. Prints `{"rows_read":N,"rows_written":M}`.
 *
 *   tsx bench/src/duckdb-baseline.ts '<parquet glob>' <out.jsonl.gz>
 */
import { DuckDBInstance } from "@duckdb/node-api"

const sqlString = (s: string): string => `'${s.replaceAll("'", "''")}'`

const main = async () => {
  const [glob, out] = process.argv.slice(2)
  if (!glob || !out) throw new Error("usage: duckdb-baseline.ts GLOB OUT.jsonl.gz")
  const db = await DuckDBInstance.create(":memory:")
  const c = await db.connect()
  const src = `read_parquet(${sqlString(glob)})`
  // The same shape as core/first-turn's output: first message, its moderation entry, turn 1.
  const copied = await c.runAndReadAll(
    `COPY (SELECT * REPLACE (conversation[1:1] AS conversation, openai_moderation[1:1] AS openai_moderation, 1 AS turn)
       FROM ${src} WHERE language IN ('English', 'Japanese')
         AND NOT coalesce(list_bool_or(list_transform(openai_moderation, lambda m: m.flagged)), false))
     TO ${sqlString(out)} (FORMAT json, COMPRESSION gzip)`
  )
  const written = Number(copied.getRows()[0]?.[0] ?? 0)
  // Rows read: from the parquet footers (metadata only, no data pages).
  const meta = await c.runAndReadAll(`SELECT sum(num_rows) FROM parquet_file_metadata(${sqlString(glob)})`)
  const read = Number(meta.getRows()[0]?.[0] ?? 0)
  process.stdout.write(`${JSON.stringify({ rows_read: read, rows_written: written })}\n`)
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`)
  process.exit(1)
})
