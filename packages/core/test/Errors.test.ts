/** The core error union: each error's tag and message, exit codes, "did you mean", and the text of a thrown value. */
import { describe, expect, it } from "@effect/vitest"
import * as Errors from "../src/Errors.js"

describe("error classes", () => {
  it("PipelineFileError names the file, line and column, and the stage when there is one", () => {
    const full = new Errors.PipelineFileError({ file: "p.yaml", line: 12, column: 5, stage: "core/filter", reason: "bad option" })
    expect(full._tag).toBe("PipelineFileError")
    expect(full.message).toBe("p.yaml:12:5: stage core/filter: bad option")
    expect(new Errors.PipelineFileError({ file: "p.yaml", line: 3, reason: "r" }).message).toBe("p.yaml:3:1: r")
    expect(new Errors.PipelineFileError({ file: "p.yaml", reason: "cannot read" }).message).toBe("p.yaml: cannot read")
  })

  it("PluginLoadError names the plugin", () => {
    const e = new Errors.PluginLoadError({ specifier: "@acme/plugin", reason: "not found" })
    expect(e._tag).toBe("PluginLoadError")
    expect(e.message).toBe("cannot load plugin @acme/plugin: not found")
  })

  it("SourceError and SinkError name the file or path", () => {
    const source = new Errors.SourceError({ file: "in.jsonl", reason: "no such file" })
    expect(source._tag).toBe("SourceError")
    expect(source.message).toBe("in.jsonl: no such file")
    const sink = new Errors.SinkError({ path: "out/part.jsonl", reason: "disk full" })
    expect(sink._tag).toBe("SinkError")
    expect(sink.message).toBe("cannot write out/part.jsonl: disk full")
  })

  it("StageError names the stage, and where it is declared when known", () => {
    const e = new Errors.StageError({ stage: "core/filter", reason: "no model" })
    expect(e._tag).toBe("StageError")
    expect(e.message).toBe("stage core/filter: no model")
    expect(new Errors.StageError({ stage: "core/filter", reason: "no model", at: "pipeline.yaml:12:5" }).message).toBe(
      "pipeline.yaml:12:5: stage core/filter: no model"
    )
  })

  it("RunError's message is its reason, and it keeps its exit code", () => {
    const e = new Errors.RunError({ reason: "too many rejects", exitCode: 1 })
    expect(e._tag).toBe("RunError")
    expect(e.message).toBe("too many rejects")
    expect(e.exitCode).toBe(1)
  })

  it("errors are Errors, whose fields stay readable", () => {
    const e = new Errors.SinkError({ path: "out", reason: "r" })
    expect(e).toBeInstanceOf(Error)
    expect(e.path).toBe("out")
    expect(e.reason).toBe("r")
  })
})

describe("Errors.exitCodeOf", () => {
  it("is 2 for pipeline-file and plugin-load errors", () => {
    expect(Errors.exitCodeOf(new Errors.PipelineFileError({ file: "p.yaml", reason: "r" }))).toBe(2)
    expect(Errors.exitCodeOf(new Errors.PluginLoadError({ specifier: "x", reason: "r" }))).toBe(2)
  })

  it("is a RunError's own exit code", () => {
    expect(Errors.exitCodeOf(new Errors.RunError({ reason: "usage", exitCode: 2 }))).toBe(2)
    expect(Errors.exitCodeOf(new Errors.RunError({ reason: "stopped", exitCode: 1 }))).toBe(1)
  })

  it("is 1 for every other error, whatever exitCode it carries", () => {
    expect(Errors.exitCodeOf(new Errors.SourceError({ file: "f", reason: "r" }))).toBe(1)
    expect(Errors.exitCodeOf(new Errors.SinkError({ path: "p", reason: "r" }))).toBe(1)
    expect(Errors.exitCodeOf(new Errors.StageError({ stage: "s", reason: "r" }))).toBe(1)
    expect(Errors.exitCodeOf({ _tag: "SomeOtherError", exitCode: 2 })).toBe(1)
  })
})

describe("Errors.nearest and Errors.didYouMean", () => {
  const stages = ["core/filter", "core/map", "moderation/flag", "pii/redact"]

  it("suggests the closest candidate for a typo, ignoring case", () => {
    expect(Errors.nearest("core/filtr", stages)).toBe("core/filter")
    expect(Errors.nearest("Core/Map", stages)).toBe("core/map")
    expect(Errors.nearest("pii/redcat", stages)).toBe("pii/redact")
    expect(Errors.didYouMean("core/filtr", stages)).toBe(" — did you mean core/filter?")
  })

  it("suggests nothing for a far name or when there are no candidates", () => {
    expect(Errors.nearest("translate", stages)).toBeUndefined()
    expect(Errors.didYouMean("translate", stages)).toBe("")
    expect(Errors.nearest("core/filter", [])).toBeUndefined()
    expect(Errors.didYouMean("core/filter", [])).toBe("")
  })

  it("allows two edits for a short name, and a third of the length for a long one", () => {
    expect(Errors.nearest("ab", ["xy"])).toBe("xy")
    expect(Errors.nearest("abc", ["xyz"])).toBeUndefined()
    // 12 characters: up to 4 edits.
    expect(Errors.nearest("abcdefghijkl", ["abcdefghWXYZ"])).toBe("abcdefghWXYZ")
    expect(Errors.nearest("abcdefghijkl", ["abcdefgVWXYZ"])).toBeUndefined()
  })
})

describe("Errors.errorText", () => {
  it("is an Error's message and any other value as a string", () => {
    expect(Errors.errorText(new Error("boom"))).toBe("boom")
    expect(Errors.errorText(new Errors.SinkError({ path: "out", reason: "full" }))).toBe("cannot write out: full")
    expect(Errors.errorText("plain text")).toBe("plain text")
    expect(Errors.errorText(42)).toBe("42")
    expect(Errors.errorText(undefined)).toBe("undefined")
  })
})
