/**
 * The built-in `core` stages: `core/select`, `core/first-turn`, `core/dedup`, `core/limit`,
 * `core/sample` and `core/fields`. Each is a plain `Stage` value working on whole
 * chunks; the stateful ones (`dedup`, `limit`) journal their state so a resumed run gives
 * exactly the rows an uninterrupted one would. One file per stage in this folder.
 */
import type { AnyStage } from "../Stage.js"
import { dedup } from "./dedup.js"
import { fields } from "./fields.js"
import { firstTurn } from "./firstTurn.js"
import { limit } from "./limit.js"
import { sample } from "./sample.js"
import { select } from "./select.js"

export { type DedupConfig, type DedupOptions, dedup, normalizeText } from "./dedup.js"
export { type FieldsConfig, type FieldsOptions, fields } from "./fields.js"
export { type FirstTurnConfig, type FirstTurnOptions, firstTurn } from "./firstTurn.js"
export { type LimitConfig, type LimitOptions, limit } from "./limit.js"
export { type SampleConfig, type SampleOptions, sample } from "./sample.js"
export { type SelectConfig, type SelectOptions, select } from "./select.js"

/** Every built-in stage, as registered by the `core` plugin. */
export const all: ReadonlyArray<AnyStage> = [select, firstTurn, dedup, limit, sample, fields]
