/**
 * The signing workers of `dedup/near-dedup`'s first pass: `threads` worker threads (the
 * plugin's own, started for the first pass and ended with it) each read whole work units of a
 * core source and sign their rows (`signWorker.ts`); the batches come back in any order and are
 * handed to `onBatch` in unit order, so the index is filled exactly as one thread reading the
 * units in order fills it. At most two units wait per worker, and at most `2 × threads + 2`
 * units are out ahead of the next one due, so the batches held back stay bounded.
 */
import { moduleWorker } from "@synthline/core/Plugin"
import * as Runner from "@synthline/core/Runner"
import type { WorkUnit } from "@synthline/core/Source"
import { Effect } from "effect"
import type { Worker } from "node:worker_threads"
import type { SignedBatch } from "./sign.js"
import type { FromSigner, SignWorkerInit, ToSigner } from "./signWorker.js"

/**
 * Each signing worker's young generation, in MB. V8's default for a worker (about 48 MB) let the
 * first pass of 1M rows peak at 528–543 MB of RSS; with 16 it peaked at 437–510 MB, for 0–10% more
 * time (2 workers, `/usr/bin/time`, three pairs). 8 was slower still and saved no more.
 */
const youngMb = 16

const spawn = (init: SignWorkerInit, heapMb: number | undefined): Worker => {
  const resourceLimits = { maxYoungGenerationSizeMb: youngMb, ...(heapMb === undefined ? {} : { maxOldGenerationSizeMb: heapMb }) }
  return moduleWorker(import.meta.url, "signWorker", { workerData: init, resourceLimits })
}

interface Slot {
  readonly worker: Worker
  /** Units sent and not yet answered. */
  readonly pending: Set<number>
}

/** Signs `units` in `threads` workers; `onBatch` gets each unit's batch, in unit order. Fails with the first error's text. */
export const signUnits = (
  threads: number,
  init: SignWorkerInit,
  units: ReadonlyArray<WorkUnit>,
  onBatch: (batch: SignedBatch) => void
): Effect.Effect<void, string> =>
  Effect.async<void, string>((resume) => {
    const slots = new Set<Slot>()
    const held = new Map<number, SignedBatch>()
    const window = 2 * threads + 2
    // Each signing worker gets the old-generation cap core gives its own workers for these
    // units, so the workers together stay near one thread's memory (none when a unit's size is
    // unknown). One that runs out of it is replaced by one without a cap, which signs its units.
    const heapMb = Runner.workerHeapMbFor(units)
    let next = 0
    let due = 0
    let over = false
    const stop = (): void => {
      over = true
      for (const s of slots) void s.worker.terminate()
    }
    const fail = (error: string): void => {
      if (over) return
      stop()
      resume(Effect.fail(error))
    }
    const send = (slot: Slot, seq: number): void => {
      slot.pending.add(seq)
      slot.worker.postMessage({ t: "unit", seq, unit: units[seq]! } satisfies ToSigner)
    }
    const feed = (): void => {
      for (const s of slots) while (s.pending.size < 2 && next < units.length && next < due + window) send(s, next++)
    }
    const start = (cap: number | undefined, redo: ReadonlyArray<number>): void => {
      const slot: Slot = { worker: spawn(init, cap), pending: new Set() }
      slots.add(slot)
      for (const seq of redo) send(slot, seq)
      slot.worker.on("message", (m: FromSigner) => {
        if (over) return
        if (m.t === "failed") return fail(`${units[m.seq]!.id}: ${m.error}`)
        slot.pending.delete(m.seq)
        held.set(m.seq, m.batch)
        for (let b = held.get(due); b !== undefined; b = held.get(due)) {
          held.delete(due++)
          try {
            onBatch(b)
          } catch (e) {
            return fail(e instanceof Error ? e.message : String(e))
          }
        }
        if (due === units.length) {
          stop()
          resume(Effect.void)
        } else feed()
      })
      slot.worker.on("error", (e: Error & { readonly code?: string }) => {
        if (over) return
        slots.delete(slot)
        // Out of its capped heap: a worker without the cap signs the units this one held.
        if (e.code === "ERR_WORKER_OUT_OF_MEMORY" && cap !== undefined) start(undefined, [...slot.pending])
        else fail(`a signing worker failed: ${e.message}`)
      })
      slot.worker.on("exit", (code) => {
        if (!over && slots.has(slot)) fail(`a signing worker exited (code ${code}) before the first pass was done`)
      })
    }
    if (units.length === 0) {
      resume(Effect.void)
      return
    }
    for (let k = 0; k < threads; k++) start(heapMb, [])
    feed()
    return Effect.sync(stop)
  })
