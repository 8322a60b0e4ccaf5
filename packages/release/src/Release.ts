/**
 * Releasing derived data encrypted with a key only holders of the original dataset can derive
 * (how LMSYS-Chat-1M-Synth released its Japanese instructions).
 *
 * The release key, version 1, exactly:
 * 1. Read every row of the source through core's sources (`release-key --source DIR` reads all
 *    `**\/*.parquet` files under DIR — the Hugging Face layout `data/train-*.parquet` — or, when
 *    there are none, all `**\/*.jsonl` and `**\/*.jsonl.gz` files). Rows without a
 *    `conversation` list are not conversations and are skipped, as are rows a source cannot decode.
 * 2. For each row, `d = sha256(JSON.stringify([conversation_id, first_user]))` where
 *    `conversation_id` is the row's string id (or `null`) and `first_user` the `content` of the
 *    first message whose `role` is `"user"` (or `null`); `d` is read as a 256-bit big-endian integer.
 * 3. `S = (Σ d) mod 2^256` over all rows, `N` = the number of rows.
 * 4. key = hex(sha256("synthline-release-key-v1\n" + N + "\n" + hex64(S))), 64 lowercase hex chars.
 *
 * The sum makes the key independent of file names, file order and row order (and of the file
 * format), keeps memory constant, and — unlike XOR — still counts duplicated rows. The key is a
 * `Redacted` value: it is never logged, written to manifests or put in error messages.
 * Files are encrypted as standard OpenPGP symmetric messages with the key as passphrase;
 * `openpgp` is imported only when a file is encrypted or decrypted.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Chunk, Data, Effect, Redacted, Stream } from "effect"
import { createHash } from "node:crypto"
import { glob } from "tinyglobby"
import { errorText, SourceError } from "@synthline/core/Errors"
import type { AnySource } from "@synthline/core/Source"
import * as Source from "@synthline/core/Source"

/** A derived release key. */
export interface ReleaseKey {
  /** The passphrase (64 hex characters); unwrap with `Redacted.value` only to hand it to OpenPGP. */
  readonly passphrase: Redacted.Redacted<string>
  /** Rows that went into it. */
  readonly rows: number
  /** Rows the source could not decode (not part of the key). */
  readonly skipped: number
}

/** Encrypting or decrypting a file failed. The message never contains the key. */
export class ReleaseError extends Data.TaggedError("ReleaseError")<{
  readonly file: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.file}: ${this.reason}`
  }
}

/** The key derivation's version tag. */
export const version: string = "synthline-release-key-v1"

/** The fields of a row the key reads. */
export const keyColumns: ReadonlyArray<string> = ["conversation_id", "conversation"]

const MOD = 1n << 256n

const firstUser = (conversation: ReadonlyArray<unknown>): string | null => {
  for (const m of conversation) {
    if (typeof m === "object" && m !== null && "role" in m && m.role === "user") {
      return "content" in m && typeof m.content === "string" ? m.content : null
    }
  }
  return null
}

/** The 256-bit digest of one row, or `undefined` for a row that is not a conversation. */
export const rowDigest = (row: { readonly [key: string]: unknown }): bigint | undefined => {
  const conversation = row.conversation
  if (!Array.isArray(conversation)) return undefined
  const id = typeof row.conversation_id === "string" ? row.conversation_id : null
  const hex = createHash("sha256").update(JSON.stringify([id, firstUser(conversation)])).digest("hex")
  return BigInt(`0x${hex}`)
}

/** The key from the sum of the row digests and the row count. */
export const keyOf = (sum: bigint, rows: number): string =>
  createHash("sha256")
    .update(`${version}\n${rows}\n${(sum % MOD).toString(16).padStart(64, "0")}`)
    .digest("hex")

/** Derives the release key from a configured source (a pipeline's own source, say). */
export const keyFromSource = (
  def: AnySource,
  config: unknown,
  baseDir: string
): Effect.Effect<ReleaseKey, SourceError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const env = { baseDir, columns: keyColumns }
    const units = yield* def.plan(config, env)
    let sum = 0n
    let rows = 0
    let skipped = 0
    const io = { reject: () => void skipped++ }
    for (const unit of units) {
      yield* def.read(unit, config, io, env).pipe(
        Stream.runForEachChunk((chunk) =>
          Effect.sync(() => {
            for (const row of Chunk.toReadonlyArray(chunk)) {
              const d = rowDigest(row)
              if (d === undefined) continue
              sum += d
              rows++
            }
            sum %= MOD
          })
        )
      )
    }
    return { passphrase: Redacted.make(keyOf(sum, rows)), rows, skipped }
  })

/** Derives the release key from a dataset folder (parquet files under it, else JSON lines files). */
export const keyFromDir = (dir: string): Effect.Effect<ReleaseKey, SourceError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const abs = path.resolve(dir)
    const list = (patterns: Array<string>) =>
      Effect.tryPromise({
        try: () => glob(patterns, { cwd: abs, onlyFiles: true, expandDirectories: false }),
        catch: (e) => new SourceError({ file: abs, reason: `cannot list files: ${String(e)}` })
      })
    if ((yield* list(["**/*.parquet"])).length > 0) {
      return yield* keyFromSource(
        Source.parquet,
        { path: "**/*.parquet", validate: "none", unit_rows: Source.defaultUnitRows },
        abs
      )
    }
    const jsonl: Array<string> = []
    for (const pattern of ["**/*.jsonl", "**/*.jsonl.gz"]) if ((yield* list([pattern])).length > 0) jsonl.push(pattern)
    if (jsonl.length > 0) {
      return yield* keyFromSource(
        Source.jsonl,
        { path: jsonl, validate: "none", max_line_bytes: Source.defaultMaxLineBytes },
        abs
      )
    }
    return yield* new SourceError({ file: abs, reason: "no parquet or JSON lines files under this folder" })
  })

const releaseError = (file: string) => (e: unknown): ReleaseError =>
  new ReleaseError({ file, reason: errorText(e) })

/** The OpenPGP code, loaded on first use (a pipeline that encrypts nothing never loads `openpgp`). */
const openpgp = () => import("./internal/openpgp.js")

/** Encrypts a file as an OpenPGP symmetric message (`gpg --batch --passphrase KEY -d` opens it). */
export const encryptFile = (
  input: string,
  output: string,
  passphrase: Redacted.Redacted<string>
): Effect.Effect<void, ReleaseError> =>
  Effect.tryPromise({
    try: async () => (await openpgp()).encryptFile(input, output, Redacted.value(passphrase)),
    catch: releaseError(input)
  })

/** Decrypts an OpenPGP symmetric message; fails without output on a wrong key or a damaged file. */
export const decryptFile = (
  input: string,
  output: string,
  passphrase: Redacted.Redacted<string>
): Effect.Effect<void, ReleaseError> =>
  Effect.tryPromise({
    try: async () => (await openpgp()).decryptFile(input, output, Redacted.value(passphrase)),
    catch: releaseError(input)
  })

/** Where `decrypt` writes by default: the file name without `.gpg` (or with `.decrypted` appended). */
export const decryptedName = (file: string): string => (file.endsWith(".gpg") ? file.slice(0, -4) : `${file}.decrypted`)

/** Decrypts a released file with the key derived from a dataset folder; returns the output path. */
export const decryptWithSource = (
  file: string,
  source: string,
  out?: string
): Effect.Effect<{ readonly out: string; readonly key: ReleaseKey }, SourceError | ReleaseError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const key = yield* keyFromDir(source)
    const target = out ?? decryptedName(file)
    yield* decryptFile(file, target, key.passphrase).pipe(
      Effect.mapError((e) =>
        new ReleaseError({
          file,
          reason: `cannot decrypt with the key of ${source} (${key.rows} rows): ${e.reason}`
        })
      )
    )
    return { out: target, key }
  })
