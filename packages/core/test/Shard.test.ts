/** Which work units a process takes: `--shard i/n`, Slurm array and Kubernetes Indexed Job variables. */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as Shard from "../src/Shard.js"

describe("Shard.parse", () => {
  it("reads i/n, with spaces around", () => {
    expect(Shard.parse("3/16")).toEqual(Either.right({ index: 3, count: 16 }))
    expect(Shard.parse(" 0/1 ")).toEqual(Either.right(Shard.whole))
  })

  it("says what is wrong with a shard that is not one", () => {
    expect(Shard.parse("3")).toEqual(Either.left("invalid shard 3: expected i/n, e.g. 0/4"))
    expect(Shard.parse("-1/4")).toEqual(Either.left("invalid shard -1/4: expected i/n, e.g. 0/4"))
    expect(Shard.parse("4/4")).toEqual(Either.left("invalid shard 4/4: need 0 <= i < n"))
    expect(Shard.parse("0/0")).toEqual(Either.left("invalid shard 0/0: need 0 <= i < n"))
  })
})

describe("Shard.fromEnv", () => {
  it("takes a Slurm array task's index, offset by the array's first index", () => {
    expect(Shard.fromEnv({ SLURM_ARRAY_TASK_ID: "2", SLURM_ARRAY_TASK_COUNT: "4" })).toEqual(Either.right({ index: 2, count: 4 }))
    // --array=1-4: task ids 1..4 are shards 0..3.
    expect(Shard.fromEnv({ SLURM_ARRAY_TASK_ID: "4", SLURM_ARRAY_TASK_COUNT: "4", SLURM_ARRAY_TASK_MIN: "1" })).toEqual(
      Either.right({ index: 3, count: 4 })
    )
    expect(Shard.fromEnv({ SLURM_ARRAY_TASK_ID: "5", SLURM_ARRAY_TASK_COUNT: "4" })).toEqual(Either.left("invalid shard 5/4: need 0 <= i < n"))
  })

  it("takes a Kubernetes Indexed Job's completion index with SYNTHLINE_SHARD_COUNT, and asks for the count when it is missing", () => {
    expect(Shard.fromEnv({ JOB_COMPLETION_INDEX: "7", SYNTHLINE_SHARD_COUNT: "8" })).toEqual(Either.right({ index: 7, count: 8 }))
    expect(Shard.fromEnv({ JOB_COMPLETION_INDEX: "7" })).toEqual(
      Either.left("JOB_COMPLETION_INDEX is set but SYNTHLINE_SHARD_COUNT is not (set it to the Job's completions)")
    )
  })

  it("is no shard at all outside an array job (a lone Slurm id is not an array)", () => {
    expect(Shard.fromEnv({})).toEqual(Either.right(undefined))
    expect(Shard.fromEnv({ SLURM_ARRAY_TASK_ID: "1" })).toEqual(Either.right(undefined))
  })
})

describe("Shard.prefix and Shard.select", () => {
  it("names the part files of a shard with five-digit numbers, plain part when unsharded", () => {
    expect(Shard.prefix(Shard.whole)).toBe("part")
    expect(Shard.prefix({ index: 1, count: 4 })).toBe("part-00001-of-00004")
    expect(Shard.prefix({ index: 41, count: 100 })).toBe("part-00041-of-00100")
  })

  it("deals the units round-robin: every unit goes to exactly one shard, in its order", () => {
    const units = Array.from({ length: 10 }, (_, i) => `u${i}`)
    const shards = [0, 1, 2].map((index) => Shard.select(units, { index, count: 3 }))
    expect(shards).toEqual([
      ["u0", "u3", "u6", "u9"],
      ["u1", "u4", "u7"],
      ["u2", "u5", "u8"]
    ])
    expect(shards.flat().sort()).toEqual([...units].sort())
    expect(Shard.select(units, Shard.whole)).toBe(units)
    // More shards than units: the extra shards get none.
    expect(Shard.select(["a", "b"], { index: 3, count: 4 })).toEqual([])
  })
})
