/**
 * `dedup/near-dedup`: near-duplicate instructions by MinHash-LSH. Each text is normalized (as
 * `core/dedup`), cut into word n-grams — or character n-grams for Japanese and Chinese, which
 * are written without spaces — and summarised by a MinHash signature; rows sharing an LSH band
 * are candidates, kept when their estimated Jaccard similarity reaches `threshold`, and joined
 * into clusters by union-find. The first row of a cluster in input order is kept (`null` in
 * `output`); every other row gets that row's `conversation_id`, or is dropped (`near-duplicate`)
 * with `drop: true` (add `route:` to send it to a branch).
 *
 * Two passes, like `synth/detect-template`: when the stage is made it reads the whole dataset
 * once (the pipeline's own source — every unit, whatever the shard — or `index_from`) and builds
 * the index; then it labels the row stream by `conversation_id`. Every shard of a sharded run
 * and every resumed run builds the same index from the same dataset, so the labels are those of
 * one uninterrupted run; nothing is journaled.
 *
 * With worker threads the index is built once, in the runner's thread, where the stage's
 * central decider lives (the runner makes its stages there too): a worker's copy of the stage
 * builds nothing and asks the decider for the labels of each chunk's `conversation_id`s, so
 * neither the first pass nor the index's memory is repeated per worker. The first pass itself
 * reads and signs the units in signing workers of the stage's own (`threads`, see
 * `internal/signPool.ts`) and appends their batches in unit order; the index keeps at most
 * `index_memory_mb` of signature blocks in memory and spills the rest (`internal/lsh.ts`).
 */
import type { FileSystem, Path } from "@effect/platform"
import { errorText, StageError } from "@synthline/core/Errors"
import { describeValue, type Row } from "@synthline/core/Row"
import { doc, make, mapChunks, type Stage, type StageContext, type Transform } from "@synthline/core/Stage"
import type { WorkUnit } from "@synthline/core/Source"
import { Chunk, Effect, Option, Schema, Stream } from "effect"
import { availableParallelism } from "node:os"
import { LshIndex } from "./internal/lsh.js"
import { batcher, type SignedBatch, type SignSpec, foldText as fold, textSigner } from "./internal/sign.js"
import { signUnits } from "./internal/signPool.js"
import { type Dataset, DatasetRef, datasetOf, FieldName, FieldPath, planDataset, readUnits, top } from "./internal/shared.js"
import { optimalBanding, permutations } from "./MinHash.js"

/** Weights of the band/row optimisation: candidates are verified, so a missed pair costs more than a false candidate. */
const FP_WEIGHT = 0.2
const FN_WEIGHT = 0.8

const NearDedupConfigSchema = Schema.Struct({
  field: Schema.optionalWith(
    FieldPath.pipe(doc("Dotted path of the text compared, in the rows and in the indexed dataset.")),
    { exact: true, default: () => "conversation.0.content" }
  ),
  output: Schema.optionalWith(
    FieldName.pipe(doc("Field that receives the conversation_id of the cluster's first row (null on first rows and unique rows).")),
    { exact: true, default: () => "near_duplicate_of" }
  ),
  threshold: Schema.optionalWith(
    Schema.Number.pipe(
      Schema.greaterThan(0),
      Schema.lessThanOrEqualTo(1),
      doc("Estimated Jaccard similarity of the shingle sets at or above which two texts are near-duplicates.")
    ),
    { exact: true, default: () => 0.8 }
  ),
  num_perm: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(8, 1024), doc("Hash functions in a MinHash signature (more: closer estimates, slower).")),
    { exact: true, default: () => 128 }
  ),
  bands: Schema.optionalWith(
    Schema.Int.pipe(
      Schema.positive(),
      doc("LSH bands (set with `rows`); default: chosen from threshold and num_perm by the S-curve optimisation.")
    ),
    { exact: true }
  ),
  rows: Schema.optionalWith(
    Schema.Int.pipe(Schema.positive(), doc("Signature values per LSH band (set with `bands`; bands × rows ≤ num_perm).")),
    { exact: true }
  ),
  tokens: Schema.optionalWith(
    Schema.Literal("auto", "word", "char").pipe(
      doc("Shingle unit: `auto` uses characters for text written without spaces (mostly Han, Hiragana or Katakana) and words otherwise; `word` or `char` forces one.")
    ),
    { exact: true, default: () => "auto" as const }
  ),
  ngram: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(1, 64), doc("Words per shingle.")),
    { exact: true, default: () => 3 }
  ),
  char_ngram: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(1, 256), doc("Characters per shingle, for character shingles.")),
    { exact: true, default: () => 5 }
  ),
  normalize: Schema.optionalWith(
    Schema.Literal("whitespace-case", "exact").pipe(
      doc("Before shingling: `whitespace-case` applies NFKC and lowercases (as core/dedup); `exact` keeps the text as it is. Punctuation and whitespace only separate tokens either way.")
    ),
    { exact: true, default: () => "whitespace-case" as const }
  ),
  drop: Schema.optionalWith(
    Schema.Boolean.pipe(
      doc("Drop near-duplicates (reason `near-duplicate`; with `route:` they go to that branch) instead of marking them; the output field is then not written.")
    ),
    { exact: true, default: () => false }
  ),
  threads: Schema.optionalWith(
    Schema.Union(Schema.Literal("auto"), Schema.Int.pipe(Schema.between(1, 256))).pipe(
      doc(
        "Worker threads that read and sign the rows in the first pass. `auto`: one per core (at most one per work unit) when the dataset has 50,000 rows or more in two units or more and is read by core's jsonl or parquet source, else the runner's thread; `1`: the runner's thread. The index is the same either way."
      )
    ),
    { exact: true, default: () => "auto" as const }
  ),
  index_memory_mb: Schema.optionalWith(
    Schema.Number.pipe(
      Schema.nonNegative(),
      doc(
        "Megabytes of signatures and band hashes the first pass keeps in memory (176 bytes a row at num_perm 128 and 12 bands); past it the oldest 65,536-row blocks go to a temporary file, read back when the bands are sorted and candidates verified. The ids (about 40 bytes a row) always stay in memory."
      )
    ),
    { exact: true, default: () => 32 }
  ),
  index_from: Schema.optionalWith(
    DatasetRef.pipe(
      doc("The dataset indexed in the first pass. Default: the pipeline's own source, all of it whatever the shard; set it to index a larger dataset than the pipeline reads.")
    ),
    { exact: true }
  )
}).pipe(
  Schema.filter((c) => {
    if ((c.bands === undefined) !== (c.rows === undefined)) return "set both bands and rows, or neither"
    if (c.bands !== undefined && c.rows !== undefined && c.bands * c.rows > c.num_perm) {
      return `bands × rows (${c.bands} × ${c.rows} = ${c.bands * c.rows}) must not exceed num_perm (${c.num_perm})`
    }
    return true
  })
)

/** Options of `dedup/near-dedup`, decoded. */
export type NearDedupConfig = typeof NearDedupConfigSchema.Type
/** Options of `dedup/near-dedup`, as written in a pipeline file. */
export type NearDedupOptions = typeof NearDedupConfigSchema.Encoded

/** The bands and rows a config uses: as set, or chosen from `threshold` and `num_perm`. */
export const banding = (config: NearDedupConfig): { readonly bands: number; readonly rows: number } => {
  if (config.bands !== undefined && config.rows !== undefined) return { bands: config.bands, rows: config.rows }
  // The optimisation integrates a few hundred layouts: once per (threshold, num_perm).
  const key = `${config.threshold}/${config.num_perm}`
  const known = bandings.get(key)
  if (known !== undefined) return known
  const b = optimalBanding(config.threshold, config.num_perm, FP_WEIGHT, FN_WEIGHT)
  bandings.set(key, b)
  return b
}

const bandings = new Map<string, { readonly bands: number; readonly rows: number }>()

/**
 * The shingler and signer of a config: text → signature, or `undefined` for a text with no
 * tokens. The signature array is reused between calls.
 */
export const signer = (config: NearDedupConfig): ((text: string) => Int32Array | undefined) => textSigner(specOf(config))

/** The plain-data signing spec of a config (what a signing worker is started with). */
const specOf = (config: NearDedupConfig): SignSpec => {
  const { bands, rows } = banding(config)
  return {
    field: config.field,
    numPerm: config.num_perm,
    bands,
    rows,
    tokens: config.tokens,
    ngram: config.ngram,
    charNgram: config.char_ngram,
    normalize: config.normalize
  }
}

/**
 * `core/dedup`'s `whitespace-case` normalization as far as shingles see it (whitespace only
 * separates tokens): NFKC — skipped for ASCII text, which it leaves unchanged — and lowercase.
 */
export const foldText: (text: string) => string = fold

/** What a unit asks the runner's index: the labels of these rows. */
interface LabelRequest {
  readonly ids: ReadonlyArray<string>
}

/**
 * The index built by the copy of the stage made in the decider's thread, by the config object
 * both were given (the runner opens the decider and makes the stage with the same one; a worker
 * thread decodes its own config, so its copy finds nothing here and asks the decider).
 */
const built = new WeakMap<NearDedupConfig, { firstOf?: ReadonlyMap<string, string> }>()

/** `dedup/near-dedup` */
export const nearDedup: Stage<NearDedupConfig, Row, Row, FileSystem.FileSystem | Path.Path, NearDedupOptions> = make({
  id: "dedup/near-dedup",
  description:
    "Mark (or drop) near-duplicate rows by MinHash-LSH over word or character n-grams, with the conversation_id of the cluster's first row (two passes, bounded memory).",
  config: NearDedupConfigSchema,
  // The labels go by conversation_id alone: the texts are read from the indexed dataset, in the first pass.
  requires: ["conversation_id"],
  reads: [],
  provides: (c) => (c.drop ? [] : [c.output]),
  fields: (c): { readonly [name: string]: Schema.Schema.Any } => (c.drop ? {} : { [c.output]: Schema.NullOr(Schema.String) }),
  central: {
    // Lookups in the index built before any unit: in worker threads, chunks are labelled as they come.
    independent: true,
    open: (config, _recovered, stageId) =>
      Effect.sync(() => {
        const slot: { firstOf?: ReadonlyMap<string, string> } = {}
        built.set(config, slot)
        return {
          decide: (request: LabelRequest) => {
            const firstOf = slot.firstOf
            if (firstOf === undefined) throw new Error(`${stageId}: the near-duplicate index was not built in the runner's thread`)
            return request.ids.map((id) => firstOf.get(id) ?? null)
          }
        }
      })
  },
  make: (config, ctx) =>
    Effect.gen(function* () {
      const slot = built.get(config)
      const decide = ctx.decide
      if (slot === undefined && decide !== undefined) return askIndex(config, ctx, decide)
      const firstOf = yield* buildIndex(config, ctx)
      if (slot !== undefined) slot.firstOf = firstOf
      return mapChunks<Row, Row>(labeller(config, ctx, (id) => firstOf.get(id)))
    }).pipe(
      Effect.catchAllDefect((d) =>
        Effect.fail(new StageError({ stage: ctx.stageId, reason: `building the index failed: ${errorText(d)}` }))
      )
    )
})

/** Rows a dataset should have before `threads: auto` starts signing workers (each loads core's sources first). */
const minRowsForThreads = 50_000

/** How many signing workers the first pass uses (1: none, the runner's thread signs). */
export const signThreads = (threads: NearDedupConfig["threads"], dataset: Dataset, units: ReadonlyArray<WorkUnit>): number => {
  if (dataset.def.type !== "jsonl" && dataset.def.type !== "parquet") return 1
  if (threads !== "auto") return threads
  if (units.length < 2) return 1
  const rows = units.every((u) => u.rows !== undefined) ? units.reduce((n, u) => n + u.rows!, 0) : undefined
  if (rows !== undefined && rows < minRowsForThreads) return 1
  return Math.min(availableParallelism(), units.length)
}

/**
 * The first pass: every row's signature into the LSH index, resolved into clusters. The rows
 * are read and signed unit by unit, in signing workers or in this thread, and the units' batches
 * go into the index in unit order either way.
 */
const buildIndex = (
  config: NearDedupConfig,
  ctx: StageContext
): Effect.Effect<ReadonlyMap<string, string>, StageError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const spec = specOf(config)
    const index = new LshIndex(permutations(config.num_perm), spec.bands, spec.rows, config.index_memory_mb * 2 ** 20)
    const columns = ["conversation_id", top(config.field)]
    const dataset = yield* datasetOf(ctx, config.index_from, "index_from")
    const units = yield* planDataset(ctx, dataset, columns)
    const threads = signThreads(config.threads, dataset, units)
    let read = 0
    let texts = 0
    let done = 0
    const started = Date.now()
    const rate = (): string => `${fmt(Math.round((read * 1000) / Math.max(1, Date.now() - started)))} rows/s`
    const add = (batch: SignedBatch): void => {
      read += batch.read
      texts += batch.texts
      index.addBatch(batch)
      done++
      ctx.progress?.(`indexing ${dataset.name}: units ${done}/${units.length} · ${fmt(read)} rows · ${rate()}`)
    }
    const encoded = threads > 1 ? Schema.encodeUnknownOption(dataset.def.config)(dataset.config) : Option.none()
    if (Option.isSome(encoded)) {
      const init = {
        spec,
        source: { type: dataset.def.type as "jsonl" | "parquet", config: encoded.value },
        baseDir: ctx.baseDir,
        columns
      }
      yield* signUnits(threads, init, units, add).pipe(
        Effect.mapError((reason) => new StageError({ stage: ctx.stageId, reason: `${dataset.name}: ${reason}` }))
      )
    } else {
      const sign = batcher(spec)
      yield* readUnits(ctx, dataset, units, columns, sign.add, () => add(sign.take()))
    }
    if (read > 0 && texts === 0) {
      return yield* new StageError({
        stage: ctx.stageId,
        reason: `${dataset.name}: none of its ${fmt(read)} rows has a conversation_id and a string at \`${config.field}\` (the \`field\` option) to compare`
      })
    }
    const r = index.resolve(config.threshold)
    const secs = ((Date.now() - started) / 1000).toFixed(1)
    ctx.progress?.(
      `indexed ${fmt(read)} rows in ${secs}s (${rate()}, ${threads > 1 ? `${threads} signing threads` : "in this thread"}): ${fmt(r.firstOf.size)} near-duplicates in ${fmt(r.clusters)} clusters${index.spilledBlocks > 0 ? `, ${fmt(index.spilledBlocks)} blocks spilled to disk` : ""}`,
      true
    )
    return r.firstOf
  })

const fmt = (n: number): string => n.toLocaleString("en-US")

/** Labels a row by its cluster's first row (`firstOf` of its id), or drops it as a near-duplicate. */
const labeller = (config: NearDedupConfig, ctx: StageContext, firstOf: (id: string) => string | null | undefined) => {
  const output = config.output
  const dropping = config.drop
  return (row: Row): Row | undefined => {
    const id = row.conversation_id
    if (typeof id !== "string") {
      ctx.reject(row, `field \`conversation_id\` is ${describeValue(id)}; expected a string`)
      return undefined
    }
    const first = firstOf(id)
    if (first === undefined || first === null) return dropping ? row : { ...row, [output]: null }
    if (dropping) return void ctx.drop(row, "near-duplicate")
    return { ...row, [output]: first }
  }
}

/** A worker thread's copy: each chunk asks the runner's index for its rows' labels (answered at once: the decider is independent). */
const askIndex = (
  config: NearDedupConfig,
  ctx: StageContext,
  decide: (request: unknown) => Effect.Effect<unknown, StageError>
): Transform<Row, Row> => {
  return (rows) =>
    rows.pipe(
      Stream.mapChunksEffect((chunk) => {
        const ids: Array<string> = []
        for (const row of chunk) if (typeof row.conversation_id === "string") ids.push(row.conversation_id)
        if (ids.length === 0) return Effect.succeed(Chunk.filterMap(chunk, (row) => Option.fromNullable(labeller(config, ctx, () => null)(row))))
        return Effect.map(decide({ ids } satisfies LabelRequest), (answer) => {
          // The labels of the rows with an id, in row order.
          const labels = answer as ReadonlyArray<string | null>
          let k = 0
          const label = labeller(config, ctx, () => labels[k++] ?? null)
          return Chunk.filterMap(chunk, (row) => Option.fromNullable(label(row)))
        })
      })
    )
}
