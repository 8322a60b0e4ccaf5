/**
 * Per-request seeds: derived from (pipeline seed, stage id, conversation_id, sample index), so
 * a rerun, a resumed run and a sharded run send the same seed for the same answer, and the
 * cache key (which includes it) matches.
 */
import { Random } from "@synthline/core/Stage"

/** The seed of one request. */
export const forRequest = (pipelineSeed: number, stageId: string, conversationId: string, sampleIndex: number): number =>
  Random.int31(pipelineSeed, stageId, conversationId, sampleIndex)
