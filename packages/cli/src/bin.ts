#!/usr/bin/env node
/** Entry point of the `synthline` binary. */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { cli, report } from "./Cli.js"

const program = cli(process.argv.slice(2)).pipe(
  Effect.catchAll((error) =>
    report(error).pipe(
      Effect.flatMap((code) =>
        Effect.sync(() => {
          process.exitCode = code
        })
      )
    )
  ),
  Effect.provide(NodeContext.layer)
)

NodeRuntime.runMain(program, { disableErrorReporting: false, disablePrettyLogger: true })
