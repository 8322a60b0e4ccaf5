#!/usr/bin/env node
/** Entry point of the `synthline` binary. */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
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
