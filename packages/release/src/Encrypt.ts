/**
 * The `encrypt` sink option: `encrypt: source-key` on any sink that writes part files through an
 * encoder (core's `jsonl`, plugin-synth's `sft` and `dpo`) turns each finished part into
 * `<part>.gpg`, OpenPGP-encrypted with the release key of the source (see {@link Release}), and
 * removes the plain part. `source_key_from` names the dataset folder the key is derived from;
 * without it, the key is the pipeline's own source's, derived once per run for all its sinks.
 * The key is derived when the sink opens, so a source that gives no key stops the run before
 * any work.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Card from "@synthline/core/Card"
import { SinkError } from "@synthline/core/Errors"
import * as Sink from "@synthline/core/Sink"
import { doc } from "@synthline/core/Stage"
import { Effect, type Redacted, Schema } from "effect"
import * as Release from "./Release.js"

const fields = {
  // Left out, `encrypt` is undefined and the sink writes plain parts: `default` says so to editors.
  encrypt: Schema.optional(
    Schema.Literal("none", "source-key").pipe(
      doc(
        "source-key writes OpenPGP-encrypted .gpg parts whose passphrase is derived from the source dataset's content (synthline release-key; from @synthline/release)."
      ),
      Schema.annotations({ default: "none" as const })
    )
  ),
  source_key_from: Schema.optional(
    Schema.NonEmptyString.pipe(doc("Folder of the source dataset the release key is derived from (default: the pipeline's source folder)."))
  )
}

/** The decoded `encrypt` options of a sink. */
export type EncryptOptions = Schema.Struct.Type<typeof fields>

type Key = Effect.Effect<Redacted.Redacted<string>, SinkError, FileSystem.FileSystem | Path.Path>

/** The key of each run's source, derived at most once per run (the run's source object is the key). */
const runKeys = new WeakMap<Sink.RunSource, Key>()

const ofRun = (source: Sink.RunSource, dir: string): Key => {
  const known = runKeys.get(source)
  if (known !== undefined) return known
  const key = Effect.runSync(
    Effect.cached(
      Release.keyFromSource(source.def, source.config, source.baseDir).pipe(
        Effect.map((k) => k.passphrase),
        Effect.mapError((e) => new SinkError({ path: dir, reason: `cannot derive the release key from the source: ${e.message}` }))
      )
    )
  )
  runKeys.set(source, key)
  return key
}

/** The release key an encrypting sink uses: from `source_key_from`, else the pipeline's source. */
const keyFor = (options: EncryptOptions, context: Sink.SinkOpenOptions): Key =>
  Effect.gen(function* () {
    if (options.source_key_from !== undefined) {
      const path = yield* Path.Path
      const dir = path.resolve(context.baseDir ?? process.cwd(), options.source_key_from)
      const key = yield* Release.keyFromDir(dir).pipe(
        Effect.mapError((e) => new SinkError({ path: context.dir, reason: `cannot derive the release key from ${dir}: ${e.message}` }))
      )
      return key.passphrase
    }
    if (context.source === undefined) {
      return yield* new SinkError({
        path: context.dir,
        reason: "encrypt: source-key needs source_key_from (a dataset folder) outside a pipeline run"
      })
    }
    return yield* ofRun(context.source, context.dir)
  })

/** The part encoder of a passphrase: `<part>.gpg`, an OpenPGP symmetric message `gpg -d` opens. */
export const encoder = (passphrase: Redacted.Redacted<string>): Sink.PartEncoder => ({
  suffix: "gpg",
  encode: (plain, out) =>
    Release.encryptFile(plain, out, passphrase).pipe(Effect.mapError((e) => new SinkError({ path: out, reason: `cannot encrypt: ${e.reason}` }))),
  decode: (encoded, out) =>
    Release.decryptFile(encoded, out, passphrase).pipe(
      Effect.mapError((e) => new SinkError({ path: encoded, reason: `cannot decrypt: ${e.reason}` }))
    )
})

/** The `encrypt` and `source_key_from` options, as the release plugin adds them to sinks. */
export const option: Sink.SinkOption<typeof fields> = Sink.option({
  fields,
  encoder: (options, context) =>
    options.encrypt === "source-key" ? Effect.map(keyFor(options, context), encoder) : Effect.succeed(undefined)
})

/**
 * What the dataset card of an output with encrypted parts says about them (its paragraph above
 * the file list): how holders of the source dataset decrypt them. It keeps no state.
 */
export const card: Card.Profiler<{}> = Card.profiler<{}>({
  key: "release",
  empty: () => ({}),
  observe: () => false,
  files: (files) =>
    files.some((f) => f.path.endsWith(".gpg"))
      ? [
          "The files are OpenPGP-encrypted (symmetric). The passphrase is derived from the source dataset: holders of it run",
          "`synthline release-key --source <dataset folder>` and `gpg --batch --passphrase <key> -d <file>`",
          "(or `synthline decrypt <file> --source <dataset folder>`)."
        ].join("\n")
      : undefined
})
