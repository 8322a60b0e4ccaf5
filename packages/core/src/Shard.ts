/**
 * Shards: which deterministic subset of work units this process takes, from `--shard i/n`
 * or the index variables of Slurm job arrays and Kubernetes Indexed Jobs.
 */
import { Either } from "effect"

/** Shard `index` of `count` (0-based). */
export interface Shard {
  readonly index: number
  readonly count: number
}

/** The whole input: shard 0 of 1. */
export const whole: Shard = { index: 0, count: 1 }

/** Parses `i/n`. */
export const parse = (text: string): Either.Either<Shard, string> => {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim())
  if (m === null) return Either.left(`invalid shard ${text}: expected i/n, e.g. 0/4`)
  const index = Number(m[1])
  const count = Number(m[2])
  if (count < 1 || index >= count) return Either.left(`invalid shard ${text}: need 0 <= i < n`)
  return Either.right({ index, count })
}

/**
 * The shard from the environment: `SLURM_ARRAY_TASK_ID` with `SLURM_ARRAY_TASK_COUNT`
 * (offset by `SLURM_ARRAY_TASK_MIN`), or Kubernetes' `JOB_COMPLETION_INDEX` with
 * `SYNTHLINE_SHARD_COUNT` (Indexed Jobs do not export their completion count).
 */
export const fromEnv = (env: { readonly [key: string]: string | undefined }): Either.Either<Shard | undefined, string> => {
  const slurmId = env.SLURM_ARRAY_TASK_ID
  const slurmCount = env.SLURM_ARRAY_TASK_COUNT
  if (slurmId !== undefined && slurmCount !== undefined) {
    const min = Number(env.SLURM_ARRAY_TASK_MIN ?? "0")
    return parse(`${Number(slurmId) - min}/${slurmCount}`)
  }
  const k8s = env.JOB_COMPLETION_INDEX
  if (k8s !== undefined) {
    const count = env.SYNTHLINE_SHARD_COUNT
    if (count === undefined) return Either.left("JOB_COMPLETION_INDEX is set but SYNTHLINE_SHARD_COUNT is not (set it to the Job's completions)")
    return parse(`${k8s}/${count}`)
  }
  return Either.right(undefined)
}

/** File-name tag of a shard: `part` unsharded, `part-00001-of-00004` otherwise. */
export const prefix = (shard: Shard): string =>
  shard.count === 1 ? "part" : `part-${String(shard.index).padStart(5, "0")}-of-${String(shard.count).padStart(5, "0")}`

/** Keeps the items of this shard (round-robin over the ordered list). */
export const select = <A>(items: ReadonlyArray<A>, shard: Shard): ReadonlyArray<A> =>
  shard.count === 1 ? items : items.filter((_, i) => i % shard.count === shard.index)
