import { describe, expect, it } from "vitest"
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Schema } from "effect"
import { readParts, synthline, tree } from "../../cli/test/support.js"
import type * as TestServer from "@synthline/llm/TestServer"
import { SynthFields, SynthFieldsEn } from "../src/Fields.js"
import { isJapanese } from "../src/Preserve.js"
import { tempDir, withServer } from "./support.js"

const repo = join(import.meta.dirname, "../../..")
const recipe = join(repo, "examples/lmsys-chat-1m-synth-ja.pipeline.yaml")
const jaEnRecipe = join(repo, "examples/lmsys-chat-1m-synth-ja-en.pipeline.yaml")
const work = tempDir("recipe")

const h = (s: string): number => createHash("sha256").update(s).digest().readUInt32LE(0)

/** Chat: judge answers carry a score 0..10 (and sometimes 85 → 8.5); generation answers are deterministic. */
const chat = (req: TestServer.ReceivedChat): TestServer.ChatReply => {
  const last = req.messages[req.messages.length - 1]!.content
  if (req.model === "test/judge") {
    const x = h(last) % 12
    return { content: x === 11 ? "Thorough. Rating: [[85]]" : `Reasoning about the answer. Rating: [[${x % 11}]]` }
  }
  const tokens = 50 + (h(`${last}${req.seed}`) % 2200)
  return { content: `回答 ${req.seed}: ${last.slice(0, 40)}`, completion_tokens: tokens }
}

/** The row Schema of the main output: the LMSYS-Chat-1M fields we keep plus the Synth fields. */
const OutputRow = Schema.Struct({
  conversation_id: Schema.String,
  model: Schema.String,
  conversation: Schema.Array(Schema.Struct({ role: Schema.String, content: Schema.String })),
  turn: Schema.Number,
  language: Schema.Literal("English", "Japanese"),
  ...SynthFields.fields
})

describe("examples/lmsys-chat-1m-synth-ja.pipeline.yaml", () => {
  it("runs end to end through the CLI on sample data against the local test server: ja+unsafe, ja, SFT and DPO from one run; every field has its type; the rerun sends zero requests", async () => {
    expect((await synthline(["sample", "--rows", "400", "--format", "parquet", "--shards", "2", "--seed", "7", "--out", join(work, "data")])).code).toBe(0)
    // detect-template counts skeletons over a larger dataset that contains the 400 rows (same seed: the same first rows).
    expect((await synthline(["sample", "--rows", "2000", "--format", "parquet", "--shards", "1", "--seed", "7", "--out", join(work, "all")])).code).toBe(0)
    await withServer({ chat, apiKey: "k-SECRET:fx", translate: (t) => `訳:${t}` }, async (server) => {
      const env = {
        SYNTHLINE_DATA: join(work, "data"),
        SYNTH_TEMPLATE_DATA: join(work, "all"),
        SYNTHLINE_OUT: join(work, "out"),
        SYNTHLINE_CACHE: join(work, "cache.sqlite"),
        DEEPL_AUTH_KEY: "k-SECRET:fx",
        OPENAI_API_KEY: "k-SECRET:fx",
        DEEPL_BASE_URL: server.url,
        VLLM_URL: server.url,
        JUDGE_URL: server.url,
        GEN_MODEL: "test/gemma",
        JUDGE_MODEL: "test/judge"
      }
      const r = await synthline(["run", recipe], env)
      expect(r.stderr).not.toContain("SECRET")
      expect(r.code, r.stderr).toBe(0)
      const out = join(work, "out")
      // The main sink holds every row (the published `+unsafe` file), translated and answered;
      // the `ja` output the same rows without the flagged ones.
      const rows = readParts(`${out}+unsafe`, /^part-.*\.jsonl\.gz$/)
      const flagged = (row: { [k: string]: unknown }) => (row.moderation as { flagged: boolean }).flagged
      expect(rows.filter(flagged).length).toBeGreaterThan(0)
      expect(readParts(out, /^part-.*\.jsonl\.gz$/)).toEqual(rows.filter((row) => !flagged(row)))
      expect(rows.filter((row) => !flagged(row)).length).toBeGreaterThan(250)
      const decode = Schema.decodeUnknownSync(OutputRow, { onExcessProperty: "ignore" })
      let generated = 0
      let skipped = 0
      let sftExpected = 0
      let dpoExpected = 0
      for (const row of rows) {
        decode(row)
        expect(row).not.toHaveProperty("synthesized_response_token_lengths")
        expect(row.synthesis_model).toBe("test/gemma")
        expect(typeof row.has_pii).toBe("boolean")
        expect(row.has_pii).toBe((row.pii_spans as Array<unknown>).length > 0)
        const conv = row.conversation as Array<{ content: string }>
        const translated = row.translated_conversation as Array<{ role: string; content: string }>
        expect(translated).toHaveLength(1)
        const source = conv[0]!.content
        // Empty and already-Japanese instructions are copied, the rest translated.
        expect(translated[0]!.content).toBe(source.trim() === "" || isJapanese(source) ? source : `訳:${source}`)
        expect(row.empty_user_instruction_ja).toBe(conv[0]!.content.trim() === "")
        const answers = row.synthesized_assistant_responses as Array<{ role: string; content: string }>
        const annotations = row.synthesized_response_scoring_annotations as Array<{ [k: string]: unknown }>
        expect(annotations).toHaveLength(answers.length)
        if (row.empty_user_instruction_ja === true || row.duplicate_user_instruction_ja !== null) {
          expect(answers).toEqual([])
          skipped++
          continue
        }
        generated++
        if (!flagged(row) && row.is_template_instruction === null && row.has_pii === false) {
          const eligible = annotations.filter((a) => a.repetition_flag === false).map((a) => a.preference_score as number)
          if (eligible.length > 0) sftExpected++
          if (eligible.length >= 2 && Math.max(...eligible) - Math.min(...eligible) >= 2) dpoExpected++
        }
        expect(answers).toHaveLength(10)
        for (const [i, a] of annotations.entries()) {
          expect(answers[i]!.role).toBe("assistant")
          expect(Number.isInteger(a.response_token_length)).toBe(true)
          expect(a.repetition_flag).toBe((a.response_token_length as number) > 2000)
          const score = a.preference_score as number
          expect(score >= 0 && score <= 10).toBe(true)
          expect(a.judgement).toMatch(/\[\[\d+\]\]$/)
        }
      }
      expect(generated).toBeGreaterThan(250)
      // The sample carries personal data in some instructions; pii/scan finds it.
      expect(rows.filter((x) => x.has_pii === true).length).toBeGreaterThan(0)
      expect(skipped).toBeGreaterThan(0)
      // Duplicates point at the first occurrence.
      const ids = new Set(rows.map((x) => x.conversation_id))
      for (const row of rows) if (typeof row.duplicate_user_instruction_ja === "string") expect(ids.has(row.duplicate_user_instruction_ja)).toBe(true)
      // Template labels: the LMSYS company-introduction family.
      const intros = rows.filter((x) => (x.conversation as Array<{ content: string }>)[0]!.content.startsWith("Give me an introduction over 200 words for"))
      expect(intros.length).toBeGreaterThan(0)
      for (const row of intros) expect(row.is_template_instruction).toBe("company introduction")
      expect(rows.filter((x) => x.is_template_instruction === null).length).toBeGreaterThan(200)
      // Requests: DeepL in batches of at most 50; 10 answers + 10 judgements per generated row.
      const sent = { chat: server.counts.chat, translate: server.counts.translate }
      expect(sent.chat).toBe(generated * 20)
      const manifest = JSON.parse(readFileSync(join(`${out}+unsafe`, "manifest.json"), "utf8"))
      expect(manifest.outputs.branches.ja).toMatchObject({ where: "moderation.flagged == false", rows: rows.length - rows.filter(flagged).length })
      expect(manifest.model_usage.deepl.requests).toBe(sent.translate)
      expect(manifest.model_usage.gemma.completions).toBe(generated * 10)
      expect(JSON.stringify(manifest)).not.toContain("SECRET")

      // The SFT export, from the same run.
      const sft = readParts(`${out}-sft`, /^part-.*\.jsonl$/)
      expect(manifest.outputs.branches.sft.rows).toBe(sft.length)
      // One line per generated row that is not a template, has no PII and has an answer without repetition.
      expect(sft.length).toBe(sftExpected)
      expect(sft.length).toBeGreaterThan(200)
      for (const line of sft) {
        expect(Object.keys(line)).toEqual(["messages"])
        const m = line.messages as Array<{ role: string; content: string }>
        expect(m.map((x) => x.role)).toEqual(["user", "assistant"])
        expect(m[0]!.content.length).toBeGreaterThan(0)
        expect(m[1]!.content).toMatch(/^回答 \d+: /)
      }

      // The DPO export: TRL's conversational preference format, chosen at least 2 points above rejected.
      const dpo = readParts(`${out}-dpo`, /^part-.*\.jsonl$/)
      expect(dpo.length).toBe(dpoExpected)
      expect(dpo.length).toBeGreaterThan(100)
      expect(manifest.outputs.branches.dpo.rows).toBe(dpo.length)
      for (const pair of dpo) {
        expect(Object.keys(pair)).toEqual(["prompt", "chosen", "rejected", "score_chosen", "score_rejected", "conversation_id"])
        expect((pair.prompt as Array<{ role: string }>).map((x) => x.role)).toEqual(["user"])
        expect((pair.chosen as Array<{ role: string }>).map((x) => x.role)).toEqual(["assistant"])
        expect((pair.rejected as Array<{ role: string }>).map((x) => x.role)).toEqual(["assistant"])
        expect((pair.score_chosen as number) - (pair.score_rejected as number)).toBeGreaterThanOrEqual(2)
      }

      // The dataset card: features from the stages' Schemas, the recipe with its settings and no secret, the models.
      const card = readFileSync(join(out, "README.md"), "utf8")
      expect(card).toContain("        - name: categories\n          sequence: string\n")
      expect(card).toContain("    - name: has_pii\n      dtype: bool\n")
      expect(card).toContain("        - name: response_token_length\n          dtype: int64\n")
      expect(card).toContain("    max_tokens: 4096\n")
      expect(card).toMatch(new RegExp(`\\| gemma \\| test/gemma \\| ${generated * 10} \\| ${generated * 10} \\| 0 \\|`))
      expect(card).not.toContain("SECRET")

      // Rerun from scratch: every model and DeepL answer comes from the cache, the part files are
      // identical (the card's model table now counts cache hits instead of requests).
      const parts = (dir: string) => Object.fromEntries(Object.entries(tree(dir)).filter(([f]) => f.startsWith("part-")))
      const folders = [out, `${out}+unsafe`, `${out}-sft`, `${out}-dpo`]
      const before = folders.map(parts)
      const again = await synthline(["run", recipe, "--fresh"], env)
      expect(again.code, again.stderr).toBe(0)
      expect({ chat: server.counts.chat, translate: server.counts.translate }).toEqual(sent)
      expect(folders.map(parts)).toEqual(before)
      const m2 = JSON.parse(readFileSync(join(`${out}+unsafe`, "manifest.json"), "utf8")).model_usage
      expect(m2.gemma).toMatchObject({ requests: 0, cache_hits: generated * 10 })
      expect(m2.deepl.requests).toBe(0)
    })
  }, 300_000)

  it("the ja+en variant answers and judges the original English instruction too, in one run, with the SFT export of both halves", async () => {
    // Sample data made by the test above.
    await withServer({ chat, apiKey: "k-SECRET:fx", translate: (t) => `訳:${t}` }, async (server) => {
      const out = join(work, "out-ja-en")
      const env = {
        SYNTHLINE_DATA: join(work, "data"),
        SYNTH_TEMPLATE_DATA: join(work, "all"),
        SYNTHLINE_OUT: out,
        SYNTHLINE_CACHE: join(work, "cache-ja-en.sqlite"),
        DEEPL_AUTH_KEY: "k-SECRET:fx",
        OPENAI_API_KEY: "k-SECRET:fx",
        DEEPL_BASE_URL: server.url,
        VLLM_URL: server.url,
        JUDGE_URL: server.url,
        GEN_MODEL: "test/gemma",
        JUDGE_MODEL: "test/judge"
      }
      const r = await synthline(["run", jaEnRecipe], env)
      expect(r.code, r.stderr).toBe(0)
      const rows = readParts(`${out}+unsafe`, /^part-.*\.jsonl\.gz$/)
      expect(rows.length).toBeGreaterThan(250)
      let ja = 0
      let en = 0
      let sftEn = 0
      // Both halves under the published names, every field with its type.
      const decode = Schema.decodeUnknownSync(Schema.Struct({ ...OutputRow.fields, ...SynthFieldsEn.fields }), { onExcessProperty: "ignore" })
      for (const row of rows) {
        decode(row)
        const source = (row.conversation as Array<{ content: string }>)[0]!.content
        const answersEn = row.synthesized_assistant_responses_en as Array<{ role: string; content: string }>
        const annotationsEn = row.synthesized_response_scoring_annotations_en as Array<{ preference_score: number; repetition_flag: boolean }>
        expect(row.synthesis_model_en).toBe("test/gemma")
        // No empty or duplicate flags of the English half's own: the published `_ja` ones decide both halves' skips.
        expect(row).not.toHaveProperty("empty_user_instruction_en")
        expect(row).not.toHaveProperty("duplicate_user_instruction_en")
        expect(annotationsEn).toHaveLength(answersEn.length)
        ja += (row.synthesized_assistant_responses as Array<unknown>).length > 0 ? 1 : 0
        if (row.empty_user_instruction_ja === true || row.duplicate_user_instruction_ja !== null) {
          expect(answersEn).toEqual([])
          continue
        }
        en++
        // One answer per instruction, to the original instruction (the test server echoes it).
        expect(answersEn).toHaveLength(1)
        expect(answersEn[0]!.content).toBe(`回答 ${answersEn[0]!.content.split(":")[0]!.slice(3)}: ${source.slice(0, 40)}`)
        const a = annotationsEn[0]!
        expect(a.preference_score >= 0 && a.preference_score <= 10).toBe(true)
        const flagged = (row.moderation as { flagged: boolean }).flagged
        if (!flagged && row.is_template_instruction === null && row.has_pii === false && !a.repetition_flag) sftEn++
      }
      expect(en).toBeGreaterThan(250)
      // The English half answers exactly the rows the Japanese half answers.
      expect(en).toBe(ja)
      // 10 answers + 10 judgements per Japanese instruction, 1 + 1 per English one.
      expect(server.counts.chat).toBe(ja * 20 + en * 2)
      const sft = readParts(`${out}-sft-en`, /^part-.*\.jsonl$/)
      expect(sft.length).toBe(sftEn)
      // Duplicates point at the first occurrence, which holds the answer.
      const byPrompt = new Map<string, (typeof rows)[number]>()
      for (const row of rows) {
        const prompt = (row.conversation as Array<{ content: string }>)[0]!.content
        if (!byPrompt.has(prompt)) byPrompt.set(prompt, row)
      }
      for (const line of sft) {
        const m = line.messages as Array<{ role: string; content: string }>
        expect(m.map((x) => x.role)).toEqual(["user", "assistant"])
        const row = byPrompt.get(m[0]!.content)
        expect(row).toBeDefined()
        expect(m[1]!.content).toBe((row!.synthesized_assistant_responses_en as Array<{ content: string }>)[0]!.content)
      }
      expect(readParts(`${out}-sft`, /^part-.*\.jsonl$/).length).toBeGreaterThan(200)
      expect(readParts(out, /^part-.*\.jsonl\.gz$/).length).toBe(rows.filter((row) => !(row.moderation as { flagged: boolean }).flagged).length)
    })
  }, 300_000)
})
