/**
 * `synthline report DIR`: writes one static HTML page with SVG charts from a run's output folder
 * (its `manifest.json`), the chart files under `DIR/charts/`, and links them from the dataset
 * card. The work is `@synthline/report`'s (an optional peer dependency), imported when the
 * command runs, so its chart libraries stay out of every other command's start-up.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { RunError } from "@synthline/core/Errors"
import { Console, Effect, Option } from "effect"

// An optional peer: an installed CLI without it says what to install.
const Report = Effect.tryPromise({
  try: () => import("@synthline/report/Report"),
  catch: () =>
    new RunError({ reason: "synthline report needs the @synthline/report package: install it next to @synthline/cli (npm install @synthline/report)", exitCode: 2 })
})

/** The `report` command. */
export const command = Command.make(
  "report",
  {
    dir: Args.directory({ name: "DIR", exists: "yes" }).pipe(Args.withDescription("A run's output folder (the one holding manifest.json).")),
    output: Options.text("output").pipe(
      Options.optional,
      Options.withDescription("The output to chart: main (default), or a branch or output name from the manifest.")
    ),
    out: Options.file("out").pipe(Options.optional, Options.withDescription("Where the page goes. Default DIR/report.html."))
  },
  ({ dir, output, out }) =>
    Effect.gen(function* () {
      const R = yield* Report
      const done = yield* R.write(dir, { output: Option.getOrUndefined(output), out: Option.getOrUndefined(out) }).pipe(
        Effect.mapError((e) => new RunError({ reason: e.message, exitCode: 2 }))
      )
      yield* Console.log(`wrote ${done.html} (${done.charts.length} charts in ${dir}/charts${done.card === undefined ? "" : `, linked from ${done.card}`})`)
    })
).pipe(Command.withDescription("Write an HTML page with SVG charts (scores per model, answer lengths, flags, judge agreement, drops) from a run's manifest."))
