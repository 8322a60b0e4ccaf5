import { readFileSync } from "node:fs"
import { join } from "node:path"
import { SynthFields } from "@synthline/plugin-synth/Fields"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { readParts, synthline, tree } from "../../cli/test/support.js"
import { tempDir, writeTinyModel } from "./support.js"

const repo = join(import.meta.dirname, "../../..")
const recipe = join(repo, "examples/lmsys-chat-1m-synth-ja.local.pipeline.yaml")
const work = tempDir("recipe")

/** The main output's row: the LMSYS-Chat-1M fields we look at plus every LMSYS-Chat-1M-Synth field. */
const OutputRow = Schema.Struct({
  conversation_id: Schema.String,
  conversation: Schema.Array(Schema.Struct({ role: Schema.String, content: Schema.String })),
  language: Schema.Literal("English", "Japanese"),
  ...SynthFields.fields
})

/** What the structured judge answers: the schema's two keys and nothing else. */
const Judgement = Schema.parseJson(Schema.Struct({ reasoning: Schema.String, score: Schema.Int }))

const manifest = (out: string) => JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"))

/** The part files of the output and its rejects (name → sha256). */
const parts = (out: string): Record<string, string> =>
  Object.fromEntries(Object.entries(tree(out)).filter(([f]) => f.startsWith("part-") || f.startsWith("rejects/")))

describe("examples/lmsys-chat-1m-synth-ja.local.pipeline.yaml on the tiny model", () => {
  it("writes every LMSYS-Chat-1M-Synth field with every judge score parsed; same seed same files without the cache; a cached rerun sends nothing", async () => {
    const model = writeTinyModel(work)
    const sample = await synthline(["sample", "--rows", "300", "--shards", "1", "--seed", "7", "--out", join(work, "data")])
    expect(sample.code, sample.stderr).toBe(0)
    const out = join(work, "out")
    const env = { SYNTHLINE_MODEL: model, SYNTHLINE_DATA: join(work, "data"), SYNTHLINE_OUT: out, SYNTHLINE_CACHE: join(work, "cache.sqlite") }
    // As the recipe's comments say: the tiny model's random translations lose placeholders, so
    // those rows go to rejects; at most the 8 rows of core/limit can.
    const args = ["run", recipe, "--max-errors", "8"]

    const first = await synthline(args, env)
    expect(first.code, first.stderr).toBe(0)
    expect(first.stderr).not.toContain("node-llama-cpp")
    const rows = readParts(out)
    const m1 = manifest(out)
    expect(m1.status).toBe("complete")
    expect(rows.length + m1.rejects.count).toBe(8)
    expect(rows.length).toBeGreaterThanOrEqual(4)
    // Every reject is a translation that lost what had to survive, tried 3 times.
    const rejects = readParts(join(out, "rejects"))
    expect(rejects).toHaveLength(m1.rejects.count)
    for (const r of rejects) {
      expect(r.stage).toBe("synth/translate")
      expect(r.error).toMatch(/(placeholder \S+|URL \S+) is missing from the translation|code block|cut off at max_tokens/)
      expect(r.error).toContain("(after 3 attempts)")
    }

    const decode = Schema.decodeUnknownSync(OutputRow, { onExcessProperty: "ignore" })
    const decodeJudgement = Schema.decodeUnknownSync(Judgement, { onExcessProperty: "error" })
    let generated = 0
    for (const row of rows) {
      const r = decode(row)
      expect(r.synthesis_model).toBe(model)
      expect(r.translated_conversation).toHaveLength(1)
      expect(r.empty_user_instruction_ja).toBe(r.translated_conversation[0]!.content.trim() === "")
      if (r.duplicate_user_instruction_ja !== null) expect(rows.map((x) => x.conversation_id)).toContain(r.duplicate_user_instruction_ja)
      const answers = r.synthesized_assistant_responses
      const annotations = r.synthesized_response_scoring_annotations
      expect(annotations).toHaveLength(answers.length)
      if (r.empty_user_instruction_ja || r.duplicate_user_instruction_ja !== null) {
        expect(answers).toEqual([])
        continue
      }
      generated++
      // n: 2, and on_length: keep keeps answers cut off at max_tokens.
      expect(answers).toHaveLength(2)
      for (const a of annotations) {
        expect(a.response_token_length).toBeGreaterThan(0)
        expect(a.response_token_length).toBeLessThanOrEqual(256)
        expect(a.repetition_flag).toBe(false)
        // The grammar kept the judge to the schema: the stored judgement is the JSON, its score is the preference score.
        const j = decodeJudgement(a.judgement)
        expect(Object.keys(JSON.parse(a.judgement))).toEqual(["reasoning", "score"])
        expect(j.reasoning.length).toBeLessThanOrEqual(300)
        expect(j.score >= 0 && j.score <= 10).toBe(true)
        expect(a.preference_score).toBe(j.score)
      }
    }
    expect(generated).toBeGreaterThanOrEqual(4)
    const u1 = m1.model_usage.local
    // Translations (with their retries), 2 answers and 2 judgements per generated row, all sent to the model.
    expect(u1.calls).toBeGreaterThanOrEqual(rows.length + 4 * generated)
    expect(u1).toMatchObject({ cache_hits: 0, requests: u1.calls, completions: u1.calls })
    expect(u1.completion_tokens).toBeGreaterThan(0)
    // Flagged conversations went to the unsafe branch.
    expect(readParts(`${out}+unsafe`).length).toBeGreaterThan(0)
    const files = parts(out)

    // The same seed without the cache: every request is answered again, and the files are identical.
    const uncached = await synthline([...args, "--fresh"], { ...env, SYNTHLINE_CACHE_MODE: "off" })
    expect(uncached.code, uncached.stderr).toBe(0)
    expect(parts(out)).toEqual(files)
    expect(manifest(out).model_usage.local).toMatchObject({ calls: u1.calls, cache_hits: 0, requests: u1.calls })

    // With the cache: nothing is sent to the model, the files are identical.
    const cached = await synthline([...args, "--fresh"], env)
    expect(cached.code, cached.stderr).toBe(0)
    expect(parts(out)).toEqual(files)
    expect(manifest(out).model_usage.local).toMatchObject({ calls: u1.calls, cache_hits: u1.calls, requests: 0 })
  }, 240_000)
})
