/**
 * The resume queue of the model client's callback transports: fibers waiting on answers resume
 * after the I/O that delivered them, in small batches, and the answers the I/O callbacks staged
 * in a response cache are committed before any of those fibers resumes.
 *
 * The first batch runs on a timer (after undici's check-phase turn that writes the requests just
 * started on the freed connections), the next ones each after another turn of the event loop. A
 * burst of answers thus turns into a burst of new requests first, and the work on the answers
 * never holds the thread long enough to delay the answers arriving next.
 */
import type * as Cache from "../../Cache.js"

const resumeQueue: Array<() => void> = []
let resumeHead = 0
const resumeBatch = 32
// Response caches holding answers the I/O callbacks staged (`send`): each commits them in one
// transaction before any of their fibers resumes, so no caller sees an answer not yet committed.
const stagedCaches = new Set<Cache.ResponseCache>()

/** Commits the staged answers, then resumes the next batch of waiting fibers (the rest after another turn). */
const flushResumes = (): void => {
  if (stagedCaches.size > 0) {
    for (const c of stagedCaches) c.commit()
    stagedCaches.clear()
  }
  const end = Math.min(resumeQueue.length, resumeHead + resumeBatch)
  while (resumeHead < end) resumeQueue[resumeHead++]!()
  if (resumeHead < resumeQueue.length) setImmediate(flushResumes)
  else {
    resumeQueue.length = 0
    resumeHead = 0
  }
}

/** Runs `f` (a fiber's resumption) after the current I/O phase, with the others queued in it. */
export const afterIo = (f: () => void): void => {
  if (resumeQueue.push(f) === 1) setTimeout(flushResumes, 0)
}

/** Marks `cache` as holding staged answers: it commits them before the next batch of fibers resumes. */
export const commitBeforeResume = (cache: Cache.ResponseCache): void => {
  stagedCaches.add(cache)
}
