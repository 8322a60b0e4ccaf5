/**
 * Deterministic randomness for stages: every random choice derives from
 * `(pipeline seed, stage id, conversation_id, index)` (DESIGN §3), so a rerun, a resumed run and
 * a sharded run make the same choices.
 */
import { hash128, seededUnit } from "./hash.js"

/** A number in [0, 1) for `(seed, stage id, conversation_id, index)`. */
export const unit = (seed: number, stageId: string, conversationId: string, index = 0): number =>
  seededUnit(seed, stageId, conversationId, index)

/** A non-negative 31-bit integer for `(seed, stage id, conversation_id, index)`: a per-request model seed. */
export const int31 = (seed: number, stageId: string, conversationId: string, index = 0): number =>
  hash128(`${seed}\u001f${stageId}\u001f${conversationId}\u001f${index}`)[0] >>> 1
