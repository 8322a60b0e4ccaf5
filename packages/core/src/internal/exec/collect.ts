/**
 * What a worker thread makes of one unit for one sink (the main sink, or an output at the end of
 * the pipeline): its rows encoded as the sink's encoding says (JSON lines, gzip member) or,
 * for a sink without one, kept as rows; the count of records the sink writes; and the profile
 * of those records. The runner appends the bytes (or writes the rows) when the unit's turn
 * comes, so the files equal those one thread writes.
 */
import * as Profile from "../profile.js"
import type { Row } from "../../Row.js"
import type { EncodedRows, SinkEncoding } from "../../Sink.js"
import { LineEncoder } from "./encode.js"

/** One unit's share of one sink, ready to travel to the runner. */
export interface Collected {
  /** Rows encoded (sinks with an encoding) … */
  readonly encoded?: EncodedRows | undefined
  /** … or as rows (sinks without one). */
  readonly rows?: ReadonlyArray<Row> | undefined
  /** Records the sink writes for these rows (an export sink may leave rows out). */
  readonly written: number
  /** What those records look like. */
  readonly profile: Profile.Profile
}

/** Collects one unit's rows for one sink. */
export class Collector {
  private readonly encoder: LineEncoder | undefined
  private readonly kept: Array<Row> = []
  private readonly profile = Profile.empty()
  private readonly observe: Profile.Observer
  private written = 0

  constructor(
    encoding: SinkEncoding | undefined,
    profiling: Parameters<typeof Profile.observer>[1],
    /** An export sink's records (see `SinkDefinition.records`): counted and profiled instead of the rows. */
    private readonly records?: ((row: Row) => Row | undefined | string) | undefined
  ) {
    this.encoder = encoding === undefined ? undefined : new LineEncoder(encoding.gzipLevel)
    this.observe = Profile.observer(this.profile, profiling)
  }

  /** Adds rows (throws `EncodeError` for a row JSON cannot encode). */
  push(rows: ReadonlyArray<Row>): void {
    const records = this.records
    if (records === undefined) {
      this.observe(rows)
      this.written += rows.length
    } else {
      const out: Array<Row> = []
      for (const row of rows) {
        const r = records(row)
        if (r !== undefined && typeof r !== "string") out.push(r)
      }
      this.observe(out)
      this.written += out.length
    }
    if (this.encoder === undefined) for (const row of rows) this.kept.push(row)
    else for (const row of rows) this.encoder.push(row)
  }

  /** Undefined when the encoder keeps up; else a promise to await before pushing more (see `LineEncoder.settled`). */
  settled(): Promise<void> | undefined {
    return this.encoder?.settled()
  }

  /** The unit's share, and the buffers to transfer with it. */
  async finish(): Promise<{ readonly collected: Collected; readonly transfer: ReadonlyArray<ArrayBuffer> }> {
    const { profile, written } = this
    if (this.encoder === undefined) return { collected: { rows: this.kept, written, profile }, transfer: [] }
    const encoded = await this.encoder.finish()
    const transfer = [encoded.text.buffer, ...(encoded.gzip !== undefined ? [encoded.gzip.buffer] : [])] as Array<ArrayBuffer>
    return { collected: { encoded, written, profile }, transfer }
  }
}
