/**
 * `synthline report DIR`: one static HTML page (`report.html`) from a run's `manifest.json`, with
 * SVG charts of the written answers — preference scores per model, answer token lengths, flags by
 * kind, judge agreement — and of the rows each stage dropped, by reason. The charts are Vega-Lite
 * specifications compiled to Vega and rendered to SVG in Node by Vega's headless `View.toSVG`
 * (no browser, no canvas); the page inlines them and needs no script or network. The SVGs are also
 * written to `charts/` and linked from the dataset card (`README.md`) in a section the report
 * replaces on every run.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Data, Effect, Schema } from "effect"
import { parse as parseVega, View } from "vega"
import { compile, type TopLevelSpec } from "vega-lite"

/** A report that could not be made: the file and the reason. */
export class ReportError extends Data.TaggedError("ReportError")<{ readonly path: string; readonly reason: string }> {
  override get message(): string {
    return `${this.path}: ${this.reason}`
  }
}

const Counts = Schema.Record({ key: Schema.String, value: Schema.Number })

const Agreement = Schema.Struct({
  judges: Schema.Tuple(Schema.String, Schema.String),
  answers: Schema.Number,
  spearman: Schema.NullOr(Schema.Number),
  within_1: Schema.Number
})

/** plugin-synth's answers profile (`profile.answers`). */
const Answers = Schema.Struct({
  preference_scores: Schema.optional(Counts),
  scores_by_model: Schema.Record({ key: Schema.String, value: Counts }),
  token_lengths: Counts,
  flags: Counts,
  judge_pairs: Schema.Record({ key: Schema.String, value: Counts }),
  agreement: Schema.optional(Schema.Array(Agreement))
})

const ProfileView = Schema.Struct({
  rows: Schema.Number,
  /** Where manifests of synthline before the answers profiler kept the score histogram. */
  preference_scores: Schema.optional(Counts),
  answers: Schema.optional(Answers)
})

const Output = Schema.Struct({ path: Schema.String, rows: Schema.Number, profile: Schema.optional(ProfileView) })

/** The parts of a `manifest.json` the report reads. */
export const ManifestView = Schema.Struct({
  name: Schema.String,
  status: Schema.optional(Schema.String),
  stages: Schema.Array(
    Schema.Struct({
      id: Schema.String,
      rows_in: Schema.Number,
      rows_out: Schema.Number,
      dropped: Counts,
      routed: Schema.Number,
      routed_reasons: Schema.optional(Counts),
      rejected: Schema.Number
    })
  ),
  outputs: Schema.Struct({ main: Output, branches: Schema.Record({ key: Schema.String, value: Output }) })
})

/** What the report reads from a manifest. */
export type ManifestView = typeof ManifestView.Type

/** One chart of the report. */
export interface Chart {
  /** File name stem (`preference-scores`), also the chart's element id. */
  readonly name: string
  readonly title: string
  /** What the chart shows, in a sentence. */
  readonly caption: string
  /** The rendered SVG, or undefined when the run has no data for it (the reason is in `caption`). */
  readonly svg: string | undefined
}

const byNumber = (a: string, b: string): number => Number(a) - Number(b)

const schema = "https://vega.github.io/schema/vega-lite/v6.json"

const bucketOrder = ["-1", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]

/** The Vega-Lite specifications of the report's charts, with the data of one output's profile and the stages; undefined where there is no data. */
export const specs = (
  manifest: ManifestView,
  output: typeof Output.Type
): ReadonlyArray<{ readonly name: string; readonly title: string; readonly caption: string; readonly spec: TopLevelSpec | undefined }> => {
  const profile = output.profile
  const answers = profile?.answers
  const scoreRows =
    answers !== undefined && Object.keys(answers.scores_by_model).length > 0
      ? Object.entries(answers.scores_by_model).flatMap(([model, counts]) => Object.entries(counts).map(([score, n]) => ({ model, score, answers: n })))
      : Object.entries(answers?.preference_scores ?? profile?.preference_scores ?? {}).map(([score, n]) => ({ model: "all", score, answers: n }))
  const lengths = Object.entries(answers?.token_lengths ?? {})
    .sort((a, b) => byNumber(a[0], b[0]))
    .map(([bin, n]) => ({ tokens: Number(bin), end: Number(bin) + 256, answers: n }))
  const flags = Object.entries(answers?.flags ?? {}).map(([flag, n]) => ({ flag, answers: n }))
  const drops = manifest.stages.flatMap((s) => [
    ...Object.entries(s.dropped).map(([reason, n]) => ({ stage: s.id, reason, rows: n })),
    ...(Object.keys(s.routed_reasons ?? {}).length > 0
      ? Object.entries(s.routed_reasons ?? {}).map(([reason, n]) => ({ stage: s.id, reason: `routed to a branch (${reason})`, rows: n }))
      : s.routed > 0
        ? [{ stage: s.id, reason: "routed to a branch", rows: s.routed }]
        : []),
    ...(s.rejected > 0 ? [{ stage: s.id, reason: "rejected", rows: s.rejected }] : [])
  ])
  const agreement = answers?.agreement ?? []
  const pairs = Object.entries(answers?.judge_pairs ?? {}).flatMap(([pair, counts]) => {
    const [a = "", b = ""] = pair.split("\t")
    return Object.entries(counts).map(([k, n]) => {
      const [x = "", y = ""] = k.split("|")
      return { pair: `${a} / ${b}`, x: Number(x), y: Number(y), answers: n }
    })
  })
  const agreementText = agreement
    .map((a) => `${a.judges[0]} / ${a.judges[1]}: Spearman ${a.spearman === null ? "n/a" : a.spearman.toFixed(3)}, ${(a.within_1 * 100).toFixed(1)}% within ±1 over ${a.answers} answers`)
    .join("; ")
  return [
    {
      name: "preference-scores",
      title: "Preference scores per model",
      caption: "Answers by preference_score bucket (-1: unscored; k: scores in [k, k+1)) and synthesis_model.",
      spec:
        scoreRows.length === 0
          ? undefined
          : {
              $schema: schema,
              data: { values: scoreRows },
              mark: { type: "bar", tooltip: true },
              encoding: {
                x: { field: "score", type: "ordinal", sort: bucketOrder, title: "preference score" },
                xOffset: { field: "model" },
                y: { field: "answers", type: "quantitative", title: "answers" },
                color: { field: "model", type: "nominal", title: "model" }
              },
              width: 480,
              height: 240
            }
    },
    {
      name: "token-lengths",
      title: "Answer token lengths",
      caption: "Answers by response_token_length (completion tokens), in bins of 256.",
      spec:
        lengths.length === 0
          ? undefined
          : {
              $schema: schema,
              data: { values: lengths },
              mark: { type: "bar", tooltip: true },
              encoding: {
                x: { field: "tokens", type: "quantitative", bin: { binned: true, step: 256 }, title: "completion tokens" },
                x2: { field: "end" },
                y: { field: "answers", type: "quantitative", title: "answers" }
              },
              width: 480,
              height: 200
            }
    },
    {
      name: "flags",
      title: "Flags by kind",
      caption: "Answers by flag: synth/check-answers (language, repetition, truncated, empty), the judge's repetition_flag (repetition_tokens), judge_disagreement.",
      spec:
        flags.length === 0
          ? undefined
          : {
              $schema: schema,
              data: { values: flags },
              mark: { type: "bar", tooltip: true },
              encoding: {
                y: { field: "flag", type: "nominal", sort: "-x", title: null },
                x: { field: "answers", type: "quantitative", title: "answers" }
              },
              width: 480
            }
    },
    {
      name: "judge-agreement",
      title: "Judge agreement",
      caption: agreementText === "" ? "One judge, or no answer two judges both scored." : `Answers by the two judges' scores. ${agreementText}.`,
      spec:
        pairs.length === 0
          ? undefined
          : {
              $schema: schema,
              data: { values: pairs },
              facet: { field: "pair", type: "nominal", title: null },
              columns: 2,
              spec: {
                mark: { type: "rect", tooltip: true },
                encoding: {
                  x: { field: "x", type: "ordinal", sort: "ascending", title: "first judge's score" },
                  y: { field: "y", type: "ordinal", sort: "descending", title: "second judge's score" },
                  color: { field: "answers", type: "quantitative", title: "answers", scale: { scheme: "blues" } }
                },
                width: 260,
                height: 260
              }
            }
    },
    {
      name: "drops",
      title: "Drops by stage and reason",
      caption: "Rows each stage dropped, by reason, with the rows routed to a branch and the rows rejected.",
      spec:
        drops.length === 0
          ? undefined
          : {
              $schema: schema,
              data: { values: drops },
              mark: { type: "bar", tooltip: true },
              encoding: {
                y: { field: "stage", type: "nominal", sort: manifest.stages.map((s) => s.id), title: null },
                x: { field: "rows", type: "quantitative", title: "rows" },
                color: { field: "reason", type: "nominal", title: "reason" }
              },
              width: 480
            }
    }
  ]
}

/** Renders a Vega-Lite specification to SVG with Vega's headless view. */
export const toSvg = (spec: TopLevelSpec): Effect.Effect<string, Error> =>
  Effect.tryPromise({
    try: async () => {
      const view = new View(parseVega(compile(spec).spec), { renderer: "none" })
      try {
        return await view.toSVG()
      } finally {
        view.finalize()
      }
    },
    catch: (e) => (e instanceof Error ? e : new Error(String(e)))
  })

/** The report's charts for one output (`main`, or a branch or output name). */
export const charts = (manifest: ManifestView, outputName = "main"): Effect.Effect<ReadonlyArray<Chart>, ReportError> =>
  Effect.gen(function* () {
    const output = outputName === "main" ? manifest.outputs.main : manifest.outputs.branches[outputName]
    if (output === undefined) {
      const known = ["main", ...Object.keys(manifest.outputs.branches)].join(", ")
      return yield* new ReportError({ path: "manifest.json", reason: `no output named ${outputName} (the run has: ${known})` })
    }
    return yield* Effect.forEach(specs(manifest, output), (c) =>
      c.spec === undefined
        ? Effect.succeed<Chart>({ name: c.name, title: c.title, caption: c.caption, svg: undefined })
        : toSvg(c.spec).pipe(
            Effect.map((svg): Chart => ({ name: c.name, title: c.title, caption: c.caption, svg })),
            Effect.mapError((e) => new ReportError({ path: `chart ${c.name}`, reason: e.message }))
          )
    )
  })

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

/** The report page: the run's name, its outputs and every chart (inline SVG, or why there is none). */
export const html = (manifest: ManifestView, outputName: string, list: ReadonlyArray<Chart>): string => {
  const outputs = [["main", manifest.outputs.main] as const, ...Object.entries(manifest.outputs.branches)]
  const sections = list.map((c) =>
    [
      `<section id="${escapeHtml(c.name)}">`,
      `<h2>${escapeHtml(c.title)}</h2>`,
      `<p>${escapeHtml(c.caption)}</p>`,
      c.svg === undefined ? `<p class="empty">No data in this run.</p>` : `<figure class="chart">${c.svg}</figure>`,
      "</section>"
    ].join("\n")
  )
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(manifest.name)}: synthline report</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 0.2rem 0.6rem; text-align: left; }
figure.chart { margin: 0; overflow-x: auto; } .empty { color: #777; font-style: italic; }
</style>
</head>
<body>
<h1>${escapeHtml(manifest.name)}</h1>
<p>Charts of the output <code>${escapeHtml(outputName)}</code>${manifest.status === undefined ? "" : `; run status: ${escapeHtml(manifest.status)}`}.</p>
<table><thead><tr><th>output</th><th>path</th><th>rows</th></tr></thead><tbody>
${outputs.map(([name, o]) => `<tr><td>${escapeHtml(name)}</td><td>${escapeHtml(o.path)}</td><td>${o.rows}</td></tr>`).join("\n")}
</tbody></table>
${sections.join("\n")}
</body>
</html>
`
}

const cardStart = "<!-- synthline report: charts -->"
const cardEnd = "<!-- /synthline report -->"

/** The dataset card with a *Charts* section linking the chart files (replacing the one an earlier report wrote). */
export const withCharts = (card: string, list: ReadonlyArray<Chart>): string => {
  const drawn = list.filter((c) => c.svg !== undefined)
  const section = [cardStart, "## Charts", "", ...drawn.flatMap((c) => [`### ${c.title}`, "", c.caption, "", `![${c.title}](charts/${c.name}.svg)`, ""]), cardEnd].join("\n")
  const start = card.indexOf(cardStart)
  const end = card.indexOf(cardEnd)
  if (start >= 0 && end > start) return `${card.slice(0, start)}${section}${card.slice(end + cardEnd.length)}`
  return `${card.replace(/\n*$/, "\n\n")}${section}\n`
}

/** What {@link write} wrote. */
export interface Written {
  readonly html: string
  readonly charts: ReadonlyArray<string>
  /** The dataset card that now links the charts, when the folder has one. */
  readonly card: string | undefined
}

/** Options of {@link write}. */
export interface WriteOptions {
  /** The output to chart: `main` (default), or a branch or output name. */
  readonly output?: string | undefined
  /** Where the page goes (default `DIR/report.html`). */
  readonly out?: string | undefined
}

/**
 * Reads `DIR/manifest.json` and writes the report page, `DIR/charts/<name>.svg` for each chart
 * with data, and the *Charts* section of `DIR/README.md` when there is one.
 */
export const write = (dir: string, options: WriteOptions = {}): Effect.Effect<Written, ReportError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const file = path.join(dir, "manifest.json")
    const text = yield* fs.readFileString(file).pipe(
      Effect.mapError((e) => new ReportError({ path: file, reason: e._tag === "SystemError" && e.reason === "NotFound" ? "no manifest.json: is this a run's output folder?" : e.message }))
    )
    const json = yield* Effect.try({ try: (): unknown => JSON.parse(text), catch: (e) => new ReportError({ path: file, reason: `not JSON: ${String(e)}` }) })
    const manifest = yield* Schema.decodeUnknown(ManifestView)(json).pipe(
      Effect.mapError((e) => new ReportError({ path: file, reason: `not a synthline manifest: ${e.message}` }))
    )
    const outputName = options.output ?? "main"
    const list = yield* charts(manifest, outputName)
    const io = <A>(target: string, e: Effect.Effect<A, { readonly message: string }>) => e.pipe(Effect.mapError((x) => new ReportError({ path: target, reason: x.message })))
    const chartDir = path.join(dir, "charts")
    yield* io(chartDir, fs.makeDirectory(chartDir, { recursive: true }))
    const chartFiles: Array<string> = []
    for (const c of list) {
      if (c.svg === undefined) continue
      const f = path.join(chartDir, `${c.name}.svg`)
      yield* io(f, fs.writeFileString(f, c.svg))
      chartFiles.push(f)
    }
    const page = options.out ?? path.join(dir, "report.html")
    yield* io(page, fs.writeFileString(`${page}.tmp`, html(manifest, outputName, list)).pipe(Effect.zipRight(fs.rename(`${page}.tmp`, page))))
    const cardFile = path.join(dir, "README.md")
    const card = yield* fs.readFileString(cardFile).pipe(Effect.option)
    if (card._tag === "Some") yield* io(cardFile, fs.writeFileString(cardFile, withCharts(card.value, list)))
    return { html: page, charts: chartFiles, card: card._tag === "Some" ? cardFile : undefined }
  })
