/**
 * The source columns a pipeline needs: what a columnar source (parquet) reads when the pipeline
 * narrows its rows. Worked out backwards from the sink, which writes every field of the rows
 * that reach it:
 * - a stage with `keeps` (`core/fields` with `keep`) needs only those fields of its input;
 * - any other stage needs what the stages after it need, plus the fields it `requires` and
 *   `reads`, so a field a stage rewrites is read from the source all the same;
 * - a stage that routes rows to a branch, or that does not declare `reads` (so may read fields
 *   it does not name), needs every column, and so does a source checked as LMSYS-Chat-1M
 *   records, whose check covers every field;
 * - `conversation_id` is always read: stages key seeds, caches and journals by it.
 * The rows that reach the sink are the same either way; what changes is that a reject record
 * written before the narrowing stage holds only the fields read (its `source` names the file
 * and row of the whole record).
 */
import { isRecord } from "../Row.js"
import { type AnyStage, readFields, requiredFields } from "../Stage.js"

/** A stage as used in a pipeline, as far as columns go. */
export interface ColumnsUse {
  readonly stage: AnyStage
  readonly config: unknown
  readonly route?: string | undefined
}

/** What {@link sourceColumns} works on. */
export interface ColumnsPipeline {
  readonly source: { readonly config: unknown }
  readonly stages: ReadonlyArray<ColumnsUse>
}

const topOf = (field: string): string => field.split(".")[0]!

/**
 * The top-level source columns the pipeline needs, sorted, or `undefined` for every column
 * (nothing narrows the rows, or something before the narrowing needs them all).
 */
export const sourceColumns = (pipeline: ColumnsPipeline): ReadonlyArray<string> | undefined => {
  const config = pipeline.source.config
  if (!isRecord(config) || config.validate !== "none") return undefined
  // `undefined`: every column.
  let needed: Set<string> | undefined
  for (let i = pipeline.stages.length - 1; i >= 0; i--) {
    const use = pipeline.stages[i]!
    const reads = readFields(use.stage, use.config)
    if (use.route !== undefined || reads === undefined) {
      needed = undefined
      continue
    }
    const keeps = use.stage.keeps?.(use.config)
    // All of them, not only those the later stages name: the stage may rename them on the way.
    if (keeps !== undefined) needed = new Set(keeps)
    if (needed === undefined) continue
    for (const f of requiredFields(use.stage, use.config)) needed.add(topOf(f))
    for (const f of reads) needed.add(topOf(f))
  }
  if (needed === undefined) return undefined
  needed.add("conversation_id")
  return [...needed].sort()
}
