import { describe, expect, it } from "@effect/vitest"
import * as Pipeline from "@synthline/core/Pipeline"
import { type LmsysRecord, type ModerationCategory, ModerationResult, moderationCategories } from "@synthline/core/Record"
import type { Row } from "@synthline/core/Row"
import * as Sample from "@synthline/sample/Sample"
import * as Testing from "@synthline/core/Testing"
import { Effect, Either, Schema } from "effect"
import { mkdirSync, mkdtempSync } from "node:fs"
import { join } from "node:path"
import { type FilterOptions, filter, ModerationAudit } from "../src/Filter.js"
import plugin from "../src/index.js"

// ---------------------------------------------------------------------------------------------
// Fixtures

type Scores = Partial<Record<ModerationCategory, number>>

/** One moderation result: the given scores (others 0.001), categories true at >= 0.5, flagged when any is. */
const mod = (scores: Scores = {}, flagged?: boolean): ModerationResult => {
  const categories = Object.fromEntries(moderationCategories.map((c) => [c, (scores[c] ?? 0) >= 0.5]))
  const category_scores = Object.fromEntries(moderationCategories.map((c) => [c, scores[c] ?? 0.001]))
  return decodeResult({ categories, category_scores, flagged: flagged ?? Object.values(categories).some(Boolean) })
}

const decodeResult = Schema.decodeUnknownSync(ModerationResult)

/** The audit field of an output row, checked against its Schema. */
const audit = Schema.decodeUnknownSync(ModerationAudit)

/** A conversation from (role, scores) pairs. */
const conv = (id: string, ...messages: ReadonlyArray<readonly ["user" | "assistant", Scores] | readonly ["user" | "assistant", Scores, boolean]>): LmsysRecord => ({
  conversation_id: id,
  model: "vicuna-13b",
  conversation: messages.map(([role], i) => ({ role, content: `message ${i} of ${id}` })),
  turn: messages.filter(([role]) => role === "user").length,
  language: "English",
  openai_moderation: messages.map(([, scores, flagged]) => mod(scores, flagged)),
  redacted: false
})

const sample = Array.from(Sample.records(7, 3000))

/** Independent reading of the spec: which message indices count under a scope. */
const counted = (r: LmsysRecord, scope: "all" | "user" | "first-turn"): Array<number> => {
  const idx = r.conversation.map((m, i) => ({ m, i }))
  if (scope === "all") return idx.map(({ i }) => i)
  const users = idx.filter(({ m }) => m.role === "user").map(({ i }) => i)
  return scope === "user" ? users : users.slice(0, 1)
}

/** Independent reading of the spec: the drop reason, or undefined when the row is safe. */
const expectedReason = (
  r: LmsysRecord,
  scope: "all" | "user" | "first-turn",
  thresholds?: Partial<Record<ModerationCategory, number>>
): string | undefined => {
  const results = counted(r, scope).map((i) => r.openai_moderation[i]!)
  const hit = new Set<string>()
  let flagged = false
  for (const m of results) {
    if (thresholds === undefined) {
      if (!m.flagged) continue
      flagged = true
      for (const [c, b] of Object.entries(m.categories)) if (b) hit.add(c)
    } else {
      for (const c of moderationCategories) {
        const t = thresholds[c]
        if (t !== undefined && m.category_scores[c] >= t) {
          flagged = true
          hit.add(c)
        }
      }
    }
  }
  if (!flagged) return undefined
  const first = moderationCategories.find((c) => hit.has(c))
  return `moderation:${first ?? "flagged"}`
}

const tally = (reasons: ReadonlyArray<string | undefined>): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const r of reasons) if (r !== undefined) out[r] = (out[r] ?? 0) + 1
  return out
}

const maxScore = (r: LmsysRecord, scope: "all" | "user" | "first-turn"): number | null => {
  const scores = counted(r, scope).flatMap((i) => Object.values(r.openai_moderation[i]!.category_scores))
  return scores.length === 0 ? null : Math.max(...scores)
}

const run = (options: FilterOptions, rows: Iterable<Row>, chunkSize?: number) =>
  Testing.runStage(filter, options, rows, chunkSize === undefined ? {} : { chunkSize })

// ---------------------------------------------------------------------------------------------

describe("moderation/filter on the annotated flag (default)", () => {
  it.effect("drops flagged sample conversations with the first category in dataset order as the reason", () =>
    Effect.gen(function* () {
      const r = yield* run({}, sample)
      const reasons = sample.map((row) => expectedReason(row, "all"))
      const expected = tally(reasons)
      expect(Object.keys(expected).length).toBeGreaterThan(3)
      expect(r.droppedByReason).toEqual(expected)
      expect(r.rows.length).toBe(reasons.filter((x) => x === undefined).length)
      expect(r.rows.length + r.dropped.length).toBe(sample.length)
      expect(r.rejected).toEqual([])
      expect(r.rows.map((x) => x.conversation_id)).toEqual(
        sample.filter((_, i) => reasons[i] === undefined).map((x) => x.conversation_id)
      )
    }))

  it.effect("writes the audit field on kept and dropped rows", () =>
    Effect.gen(function* () {
      const r = yield* run({}, sample.slice(0, 500))
      for (const row of r.rows) {
        const source = sample.find((s) => s.conversation_id === row.conversation_id)!
        expect(row.moderation).toEqual({ flagged: false, categories: [], max_score: maxScore(source, "all"), source: "openai_moderation" })
        expect(row.conversation).toBe(source.conversation)
      }
      expect(r.dropped.length).toBeGreaterThan(0)
      for (const d of r.dropped) {
        const a = audit(d.row.moderation)
        expect(a.flagged).toBe(true)
        expect(a.source).toBe("openai_moderation")
        expect(d.reason).toBe(a.categories.length > 0 ? `moderation:${a.categories[0]}` : "moderation:flagged")
      }
    }))

  it.effect("names the first flagged category in dataset order, or flagged when none is true", () =>
    Effect.gen(function* () {
      const rows = [
        conv("safe", ["user", { violence: 0.2 }], ["assistant", {}]),
        conv("two", ["user", { violence: 0.9, harassment: 0.7 }], ["assistant", {}]),
        conv("later", ["user", {}], ["assistant", { "self-harm/intent": 0.8 }], ["user", { hate: 0.6 }], ["assistant", {}]),
        conv("bare", ["user", { sexual: 0.3 }, true], ["assistant", {}]),
        conv("unflagged-category", ["user", { violence: 0.9 }, false], ["assistant", {}])
      ]
      const r = yield* run({}, rows)
      expect(r.dropped.map((d) => [d.row.conversation_id, d.reason])).toEqual([
        ["two", "moderation:harassment"],
        ["later", "moderation:hate"],
        ["bare", "moderation:flagged"]
      ])
      expect(r.dropped.map((d) => d.row.moderation)).toEqual([
        { flagged: true, categories: ["harassment", "violence"], max_score: 0.9, source: "openai_moderation" },
        { flagged: true, categories: ["hate", "self-harm/intent"], max_score: 0.8, source: "openai_moderation" },
        { flagged: true, categories: [], max_score: 0.3, source: "openai_moderation" }
      ])
      expect(r.rows.map((x) => [x.conversation_id, x.moderation])).toEqual([
        ["safe", { flagged: false, categories: [], max_score: 0.2, source: "openai_moderation" }],
        ["unflagged-category", { flagged: false, categories: [], max_score: 0.9, source: "openai_moderation" }]
      ])
    }))

  it.effect("gives the same result whatever the chunking", () =>
    Effect.gen(function* () {
      const whole = yield* run({ scope: "user" }, sample.slice(0, 800))
      const small = yield* run({ scope: "user" }, sample.slice(0, 800), 7)
      expect(small.rows).toEqual(whole.rows)
      expect(small.dropped).toEqual(whole.dropped)
    }))
})

describe("moderation/filter with thresholds", () => {
  it.effect("flags a message when any listed score reaches its threshold, ignoring the annotated flag", () =>
    Effect.gen(function* () {
      const rows = [
        conv("at", ["user", { violence: 0.5 }], ["assistant", {}]),
        conv("below-but-flagged", ["user", { violence: 0.49, hate: 0.99 }], ["assistant", {}]),
        conv("intent", ["user", {}], ["assistant", { "self-harm/intent": 0.21 }]),
        conv("both", ["user", { violence: 0.7, "self-harm/intent": 0.3 }], ["assistant", {}])
      ]
      const r = yield* run({ thresholds: { violence: 0.5, "self-harm/intent": 0.2 } }, rows)
      expect(r.dropped.map((d) => [d.row.conversation_id, d.reason])).toEqual([
        ["at", "moderation:violence"],
        ["intent", "moderation:self-harm/intent"],
        ["both", "moderation:self-harm/intent"]
      ])
      expect(r.dropped[2]!.row.moderation).toEqual({
        flagged: true,
        categories: ["self-harm/intent", "violence"],
        max_score: 0.7,
        source: "thresholds"
      })
      expect(r.rows.map((x) => [x.conversation_id, x.moderation])).toEqual([
        ["below-but-flagged", { flagged: false, categories: [], max_score: 0.99, source: "thresholds" }]
      ])
    }))

  it.effect("matches an independent computation over the sample for each scope", () =>
    Effect.gen(function* () {
      const thresholds = { violence: 0.3, sexual: 0.4, "harassment/threatening": 0.25 } as const
      for (const scope of ["all", "user", "first-turn"] as const) {
        const r = yield* run({ thresholds, scope }, sample)
        const reasons = sample.map((row) => expectedReason(row, scope, thresholds))
        expect(r.droppedByReason).toEqual(tally(reasons))
        expect(r.rows.length).toBe(reasons.filter((x) => x === undefined).length)
      }
    }))
})

describe("moderation/filter scopes", () => {
  const rows = [
    // Only an assistant message is flagged.
    conv("assistant-only", ["user", { hate: 0.1 }], ["assistant", { violence: 0.9 }], ["user", {}], ["assistant", {}]),
    // Only the second user message is flagged.
    conv("second-user", ["user", { hate: 0.1 }], ["assistant", {}], ["user", { sexual: 0.8 }], ["assistant", {}]),
    // The first user message is flagged.
    conv("first-user", ["user", { "self-harm": 0.6 }], ["assistant", {}], ["user", { harassment: 0.9 }], ["assistant", {}]),
    // No user message at all.
    conv("no-user", ["assistant", { violence: 0.95 }])
  ]

  it.effect("all counts every message", () =>
    Effect.gen(function* () {
      const r = yield* run({ scope: "all" }, rows)
      expect(r.dropped.map((d) => [d.row.conversation_id, d.reason])).toEqual([
        ["assistant-only", "moderation:violence"],
        ["second-user", "moderation:sexual"],
        ["first-user", "moderation:harassment"],
        ["no-user", "moderation:violence"]
      ])
    }))

  it.effect("user counts only messages whose role is user", () =>
    Effect.gen(function* () {
      const r = yield* run({ scope: "user" }, rows)
      expect(r.dropped.map((d) => [d.row.conversation_id, d.reason])).toEqual([
        ["second-user", "moderation:sexual"],
        ["first-user", "moderation:harassment"]
      ])
      expect(r.rows.map((x) => [x.conversation_id, x.moderation])).toEqual([
        ["assistant-only", { flagged: false, categories: [], max_score: 0.1, source: "openai_moderation" }],
        ["no-user", { flagged: false, categories: [], max_score: null, source: "openai_moderation" }]
      ])
    }))

  it.effect("first-turn counts only the first user message", () =>
    Effect.gen(function* () {
      const r = yield* run({ scope: "first-turn" }, rows)
      expect(r.dropped.map((d) => [d.row.conversation_id, d.reason, d.row.moderation])).toEqual([
        ["first-user", "moderation:self-harm", { flagged: true, categories: ["self-harm"], max_score: 0.6, source: "openai_moderation" }]
      ])
      expect(r.rows.map((x) => x.conversation_id)).toEqual(["assistant-only", "second-user", "no-user"])
    }))

  it.effect("each scope matches an independent computation over the sample", () =>
    Effect.gen(function* () {
      const sizes: Array<number> = []
      for (const scope of ["all", "user", "first-turn"] as const) {
        const r = yield* run({ scope }, sample)
        const reasons = sample.map((row) => expectedReason(row, scope))
        expect(r.droppedByReason).toEqual(tally(reasons))
        sizes.push(r.dropped.length)
      }
      // Narrower scopes count fewer messages, so they never drop more.
      expect(sizes[0]!).toBeGreaterThan(sizes[1]!)
      expect(sizes[1]!).toBeGreaterThanOrEqual(sizes[2]!)
    }))
})

describe("moderation/filter actions", () => {
  it.effect("annotate keeps every row and records the decision", () =>
    Effect.gen(function* () {
      const r = yield* run({ action: "annotate" }, sample)
      expect(r.rows.length).toBe(sample.length)
      expect(r.dropped).toEqual([])
      const flagged = r.rows.map((x) => audit(x.moderation)).filter((a) => a.flagged)
      expect(flagged.length).toBe(sample.filter((row) => expectedReason(row, "all") !== undefined).length)
      expect(flagged.length).toBeGreaterThan(0)
      for (const a of flagged) expect(a.categories.length).toBeGreaterThan(0)
    }))

  it.effect("route drops like drop, with the audit field on the routed rows", () =>
    Effect.gen(function* () {
      const drop = yield* run({ action: "drop" }, sample)
      const route = yield* run({ action: "route" }, sample)
      expect(route.rows).toEqual(drop.rows)
      expect(route.dropped).toEqual(drop.dropped)
      for (const d of route.dropped) expect(audit(d.row.moderation).flagged).toBe(true)
    }))
})

describe("moderation/filter on missing or malformed annotations", () => {
  const good = conv("good", ["user", {}], ["assistant", {}])
  const withModeration = (id: string, openai_moderation: unknown): Row => ({ ...good, conversation_id: id, openai_moderation })
  const entry = mod()
  const broken: Array<readonly [Row, RegExp]> = [
    [withModeration("absent", undefined), /field `openai_moderation` is missing; expected an array/],
    [withModeration("string", "n/a"), /field `openai_moderation` is the string "n\/a"/],
    [withModeration("short", [entry]), /openai_moderation has 1 entries but conversation has 2 messages/],
    [withModeration("null-entry", [entry, null]), /openai_moderation\[1\] is null; expected a moderation result object/],
    [withModeration("no-categories", [entry, { ...entry, categories: undefined }]), /openai_moderation\[1\]\.categories is missing/],
    [
      withModeration("string-flag", [{ ...entry, categories: { ...entry.categories, violence: "true" } }, entry]),
      /openai_moderation\[0\]\.categories\.violence is the string "true"; expected a boolean/
    ],
    [
      withModeration("missing-score", [entry, { ...entry, category_scores: { ...entry.category_scores, hate: undefined } }]),
      /openai_moderation\[1\]\.category_scores\.hate is missing; expected a number/
    ],
    [withModeration("flagged-yes", [entry, { ...entry, flagged: "yes" }]), /openai_moderation\[1\]\.flagged is the string "yes"; expected a boolean/]
  ]

  it.effect("rejects each with a reason naming the message index and field", () =>
    Effect.gen(function* () {
      const r = yield* run({}, [good, ...broken.map(([row]) => row)])
      expect(r.rows.map((x) => x.conversation_id)).toEqual(["good"])
      expect(r.rejected.map((x) => x.row.conversation_id)).toEqual(broken.map(([row]) => row.conversation_id))
      for (const [i, x] of r.rejected.entries()) expect(x.error).toMatch(broken[i]![1])
    }))

  it.effect("rejects a row without a conversation", () =>
    Effect.gen(function* () {
      const r = yield* run({ on_missing: "keep" }, [{ ...good, conversation: null }])
      expect(r.rejected.map((x) => x.error)).toEqual(["field `conversation` is null; expected an array of {role, content} messages"])
    }))

  it.effect("on_missing: keep keeps them with source missing", () =>
    Effect.gen(function* () {
      const r = yield* run({ on_missing: "keep" }, [good, ...broken.map(([row]) => row)])
      expect(r.rejected).toEqual([])
      expect(r.rows.length).toBe(broken.length + 1)
      for (const row of r.rows.slice(1)) {
        expect(row.moderation).toEqual({ flagged: false, categories: [], max_score: null, source: "missing" })
      }
    }))

  it.effect("on_missing: drop drops them with reason moderation:missing", () =>
    Effect.gen(function* () {
      const r = yield* run({ on_missing: "drop" }, [good, ...broken.map(([row]) => row)])
      expect(r.rejected).toEqual([])
      expect(r.rows.map((x) => x.conversation_id)).toEqual(["good"])
      expect(r.droppedByReason).toEqual({ "moderation:missing": broken.length })
    }))

  it.effect("only reads the annotations of the messages in scope", () =>
    Effect.gen(function* () {
      const row = withModeration("assistant-broken", [entry, { ...entry, flagged: null }])
      const user = yield* run({ scope: "user" }, [row])
      const all = yield* run({ scope: "all" }, [row])
      expect(user.rows.length).toBe(1)
      expect(all.rejected.map((x) => x.error)).toEqual(["openai_moderation[1].flagged is null; expected a boolean"])
    }))
})

describe("moderation/filter options", () => {
  const decodeError = (options: unknown) =>
    Testing.decodeConfig(filter, options).pipe(
      Effect.flip,
      Effect.map((e) => e.message)
    )

  it.effect("fills defaults", () =>
    Effect.gen(function* () {
      expect(yield* Testing.decodeConfig(filter, {})).toEqual({
        field: "conversation",
        annotations: "openai_moderation",
        scope: "all",
        action: "drop",
        on_missing: "reject"
      })
    }))

  it.effect("rejects an unknown threshold category with the nearest name", () =>
    Effect.gen(function* () {
      const message = yield* decodeError({ thresholds: { violance: 0.5 } })
      expect(message).toContain(`unknown moderation category "violance" — did you mean violence?`)
      const slash = yield* decodeError({ thresholds: { "self-harm-intent": 0.2 } })
      expect(slash).toContain("did you mean self-harm/intent?")
    }))

  it.effect("rejects out-of-range thresholds, empty thresholds and unknown enum values", () =>
    Effect.gen(function* () {
      expect(yield* decodeError({ thresholds: { violence: 1.5 } })).toMatch(/between 0 and 1/)
      expect(yield* decodeError({ thresholds: {} })).toContain("thresholds must list at least one category")
      expect(yield* decodeError({ scope: "users" })).toContain(`"first-turn"`)
      expect(yield* decodeError({ action: "split" })).toContain(`"annotate"`)
      expect(yield* decodeError({ on_missing: "skip" })).toContain(`"keep"`)
    }))
})

describe("the moderation plugin in a pipeline file", () => {
  // Inside the package, so the plugin resolves by its package name as in a user's project.
  mkdirSync(join(import.meta.dirname, ".tmp"), { recursive: true })
  const dir = mkdtempSync(join(import.meta.dirname, ".tmp", "pipeline-"))
  const text = `name: safe-split
source: { type: jsonl, path: "data/*.jsonl" }
plugins: ["@synthline/plugin-moderation"]
stages:
  - use: moderation/filter
    scope: user
    thresholds: { violence: 0.5, "self-harm/intent": 0.2 }
    action: route
    route: unsafe
sink: { type: jsonl, path: out/main }
branches:
  unsafe: { type: jsonl, path: out/unsafe }
`
  const decode = (t: string) => Pipeline.decode(join(dir, "pipeline.yaml"), t, { env: {} }).pipe(Effect.either)

  it.effect("loads moderation/filter by package name, with its route", () =>
    Effect.gen(function* () {
      const r = yield* decode(text)
      if (Either.isLeft(r)) expect.fail(r.left.message)
      if (Either.isRight(r)) {
        const loaded = r.right.registry.plugins.find((p) => p.plugin.name === "moderation")
        expect(loaded?.plugin.packageName).toBe("@synthline/plugin-moderation")
        const use = r.right.stages[0]!
        expect(use.stage.id).toBe("moderation/filter")
        expect(use.instanceId).toBe("moderation/filter")
        expect(use.route).toBe("unsafe")
        expect(use.config).toEqual({
          scope: "user",
          thresholds: { violence: 0.5, "self-harm/intent": 0.2 },
          action: "route",
          on_missing: "reject",
          field: "conversation",
          annotations: "openai_moderation"
        })
        expect([...r.right.branches.keys()]).toEqual(["unsafe"])
      }
      expect(plugin.name).toBe("moderation")
      expect(plugin.packageName).toBe("@synthline/plugin-moderation")
      expect(plugin.stages.every((s) => s.id.startsWith("moderation/"))).toBe(true)
    }))

  it.effect("suggests moderation/filter for a typo", () =>
    Effect.gen(function* () {
      const r = yield* decode(text.replace("use: moderation/filter", "use: moderation/filtr"))
      expect(Either.isLeft(r) && r.left.message).toContain("did you mean moderation/filter?")
    }))

  it.effect("reports an unknown threshold category at its position", () =>
    Effect.gen(function* () {
      const r = yield* decode(text.replace("{ violence: 0.5,", "{ violance: 0.5,"))
      expect(Either.isLeft(r) && r.left.message).toMatch(/pipeline\.yaml:\d+:\d+: stage moderation\/filter: .*did you mean violence\?/s)
    }))
})
