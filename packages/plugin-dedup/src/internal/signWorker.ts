/**
 * A signing worker of `dedup/near-dedup`'s first pass (see `signPool.ts`): reads the work units
 * it is sent from a core source (`jsonl` or `parquet`, its config given encoded) and posts back
 * each unit's signed rows as one batch of typed arrays (transferred, not copied), one unit at a
 * time in the order they were sent.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { jsonl, parquet, type SourceDefinition, type WorkUnit } from "@synthline/core/Source"
import { errorText } from "@synthline/core/Errors"
import { Chunk, Effect, Schema, Stream } from "effect"
import { parentPort, workerData } from "node:worker_threads"
import { batcher, type SignedBatch, type SignSpec } from "./sign.js"

/** What a signing worker is started with (`workerData`). */
export interface SignWorkerInit {
  readonly spec: SignSpec
  /** A core source type and its config as written in a pipeline file (encoded). */
  readonly source: { readonly type: "jsonl" | "parquet"; readonly config: unknown }
  readonly baseDir: string
  readonly columns: ReadonlyArray<string>
}

/** Runner → signing worker. */
export type ToSigner = { readonly t: "unit"; readonly seq: number; readonly unit: WorkUnit }

/** Signing worker → runner. */
export type FromSigner =
  | { readonly t: "done"; readonly seq: number; readonly batch: SignedBatch }
  | { readonly t: "failed"; readonly seq: number; readonly error: string }

const port = parentPort
if (port !== null) {
  const init = workerData as SignWorkerInit
  // biome-ignore lint/suspicious/noExplicitAny: one of core's source definitions
  const def: SourceDefinition<any> = init.source.type === "jsonl" ? jsonl : parquet
  const config = Schema.decodeUnknownSync(def.config)(init.source.config)
  const env = { baseDir: init.baseDir, columns: init.columns }
  const io = { reject: () => undefined }
  const sign = batcher(init.spec)
  let queue: Promise<void> = Promise.resolve()
  port.on("message", (m: ToSigner) => {
    queue = queue.then(() =>
      Effect.runPromise(
        def.read(m.unit, config, io, env).pipe(
          Stream.runForEachChunk((c) => Effect.sync(() => sign.add(Chunk.toReadonlyArray(c)))),
          Effect.map(() => sign.take()),
          Effect.provide(NodeContext.layer),
          Effect.either
        )
      ).then(
        (result) => {
          if (result._tag === "Right") {
            const batch = result.right
            const message: FromSigner = { t: "done", seq: m.seq, batch }
            port.postMessage(message, [batch.idEnds.buffer, batch.sig8.buffer, batch.bandHashes.buffer] as Array<ArrayBuffer>)
          } else {
            sign.take()
            port.postMessage({ t: "failed", seq: m.seq, error: errorText(result.left) } satisfies FromSigner)
          }
        },
        (e: unknown) => port.postMessage({ t: "failed", seq: m.seq, error: errorText(e) } satisfies FromSigner)
      )
    )
  })
}
