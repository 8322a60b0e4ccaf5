/**
 * The resume queue of the model client's callback transports: fibers waiting on answers resume
 * after the I/O that delivered them (answers staged in the response cache: after their commit,
 * `Staged.whenCommitted`), in small batches.
 *
 * The first batch runs on a timer (after undici's check-phase turn that writes the requests just
 * started on the freed connections), the next ones each after another turn of the event loop. A
 * burst of answers thus turns into a burst of new requests first, and the work on the answers
 * never holds the thread long enough to delay the answers arriving next.
 */
const resumeQueue: Array<() => void> = []
let resumeHead = 0
const resumeBatch = 32
/** Resumes the next batch of waiting fibers (the rest after another turn). */
const flushResumes = (): void => {
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
