/**
 * The persistent response cache: answers keyed by the full request (model, messages, sampling
 * parameters, seed, sample index) in a SQLite file, so a rerun or a resumed run sends no
 * request whose answer is cached. An answer is committed before its caller uses it (WAL
 * journal), so a `kill -9` loses at most the requests that were in flight: `store` commits one
 * answer; the model client {@link ResponseCache.stage}s the answers that arrive in one turn of
 * the event loop and {@link ResponseCache.commit}s them in one transaction before any of their
 * callers resumes (one commit per turn instead of one per answer).
 * A lookup of a key the file cannot hold reads nothing: a Bloom filter of the file's keys
 * (`internal/keyFilter.ts`, scanned a page per missed lookup) and of those stored since answers it.
 * A file SQLite cannot read (damaged) is an {@link LlmCacheError} that says how to go on.
 * A run has one cache, the {@link Responses} service: its file is opened once, on first use, and
 * shared by every caller (the chat models, DeepL in `synth/translate`).
 */
import { RunContext } from "@synthline/core/Plugin"
import Database from "better-sqlite3"
import { createHash } from "node:crypto"
import { mkdirSync } from "node:fs"
import { dirname, isAbsolute, resolve } from "node:path"
import { Context, Effect, Either, Layer, Schema, Scope } from "effect"
import type { ChatRequest, Completion } from "./Chat.js"
import { type CacheMode, CacheSection } from "./Config.js"
import { LlmCacheError, LlmConfigError } from "./Errors.js"
import { CacheWriter } from "./internal/cacheWriter.js"
import { KeyFilter } from "./internal/keyFilter.js"
import { errorText } from "@synthline/core/Errors"

type Answer = Omit<Completion, "cached">

/** A response cache. */
export interface ResponseCache {
  readonly mode: CacheMode
  /** The cached answer for a key, if any; a {@link LlmCacheError} when the file cannot be read (damaged). */
  readonly lookup: (key: string) => Either.Either<Answer | undefined, LlmCacheError>
  /** Stores and commits an answer (a no-op unless the mode is `read-write`); a {@link LlmCacheError} when it cannot. */
  readonly store: (key: string, model: string, answer: Answer) => Either.Either<void, LlmCacheError>
  /** {@link lookup} that throws the {@link LlmCacheError}. */
  readonly get: (key: string) => Answer | undefined
  /** {@link store} that throws the {@link LlmCacheError}. */
  readonly put: (key: string, model: string, answer: Answer) => void
  /**
   * Stages an answer for the next {@link commit} (nothing unless the mode is `read-write`); a
   * lookup finds it at once. Its caller must not use the answer before the receipt's `result()`,
   * which commits first when no commit ran since.
   */
  readonly stage: (key: string, model: string, answer: Answer) => Staged
  /** Commits every staged answer in one transaction (a failure is each one's receipt's result). */
  readonly commit: () => void
  /** Number of answers stored. */
  readonly size: () => number
  /** Commits what is staged ({@link commit}); `store` commits its answer itself. */
  readonly flush: () => void
}

/** The receipt of {@link ResponseCache.stage}. */
export interface Staged {
  /** Whether its answer was committed: commits the staged answers first when no commit ran since. */
  readonly result: () => Either.Either<void, LlmCacheError>
  /**
   * Calls `go` once its answer's commit is over (then {@link result} has its outcome without
   * committing): the answers staged in one turn of the event loop are committed together on the
   * cache's writer thread, off the caller's thread; at once when it is already over.
   */
  readonly whenCommitted: (go: () => void) => void
}

/** The cache key of a request: sha256 over the model name and everything that shapes the answer. */
export const key = (
  model: string,
  request: ChatRequest,
  extraBody: { readonly [key: string]: unknown },
  sampleIndex: number
): string =>
  createHash("sha256")
    .update(
      JSON.stringify([
        model,
        request.messages,
        request.temperature ?? null,
        request.top_p ?? null,
        request.max_tokens ?? null,
        request.stop ?? null,
        request.seed ?? null,
        request.response_format ?? null,
        canonical({ ...extraBody, ...request.extra }),
        sampleIndex
      ])
    )
    .digest("hex")

/** The cache key of a non-chat request (`Model.request`): sha256 over the model, route, body and sample index. */
export const routeKey = (model: string, route: string, body: object, sampleIndex: number): string =>
  createHash("sha256")
    .update(JSON.stringify(["route", model, route, canonical(body), sampleIndex]))
    .digest("hex")

/** An object with its keys sorted, recursively, so equal requests hash equally. */
const canonical = (u: unknown): unknown => {
  if (Array.isArray(u)) return u.map(canonical)
  if (typeof u !== "object" || u === null) return u
  const o = u as { readonly [key: string]: unknown }
  return Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [k, canonical(o[k])])
  )
}

const nothing = Either.right(undefined)

const stored: Staged = { result: () => nothing, whenCommitted: (go) => go() }

/** A cache that stores nothing. */
export const off: ResponseCache = {
  mode: "off",
  lookup: () => nothing,
  store: () => nothing,
  get: () => undefined,
  put: () => undefined,
  stage: () => stored,
  commit: () => undefined,
  size: () => 0,
  flush: () => undefined
}

/** SQLite's codes for a file that is not (any more) a valid database. */
const damagedCodes = new Set(["SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_CORRUPT_INDEX", "SQLITE_CORRUPT_SEQUENCE", "SQLITE_CORRUPT_VTAB"])

/** The cache error for what SQLite threw. */
const cacheError = (file: string, operation: LlmCacheError["operation"], e: unknown, mode?: CacheMode): LlmCacheError => {
  const code = typeof e === "object" && e !== null && "code" in e ? String(e.code) : ""
  const detail = errorText(e)
  return new LlmCacheError({ file, operation, mode, detail, damaged: damagedCodes.has(code) || /malformed|not a database/i.test(detail) })
}

/** Opens (creating when needed, unless read-only) the SQLite cache at `file`, closed with the scope. */
export const open = (file: string, mode: CacheMode): Effect.Effect<ResponseCache, LlmConfigError, Scope.Scope> => {
  if (mode === "off") return Effect.succeed(off)
  const failure = (e: unknown) => new LlmConfigError({ reason: cacheError(file, "open", e, mode).message })
  return Effect.acquireRelease(
    Effect.try({
      try: () => {
        if (mode === "read-write") mkdirSync(dirname(file), { recursive: true })
        return new Database(file, mode === "read-only" ? { readonly: true, fileMustExist: true } : {})
      },
      catch: failure
    }),
    (db) => Effect.sync(() => db.close())
  ).pipe(
    Effect.flatMap((db) =>
      Effect.try({ try: () => statements(file, db, mode), catch: failure }).pipe(
        // What is still staged is committed, and the writer thread ended, before the file closes (finalizers run in reverse order).
        Effect.tap((cache) => Effect.addFinalizer(() => Effect.sync(cache.close)))
      )
    )
  )
}

/** A row of the `responses` table, as {@link Prepared.select} reads it. */
interface Row {
  readonly content: string
  readonly finish_reason: string | null
  readonly prompt_tokens: number
  readonly completion_tokens: number
}

/** One answer staged for the next commit, with its receipt's outcome once that commit ran. */
interface Entry {
  readonly key: string
  readonly model: string
  readonly answer: Answer
  outcome: Either.Either<void, LlmCacheError> | undefined
  /** Called once the outcome is known ({@link Staged.whenCommitted}). */
  waiters: Array<() => void> | undefined
}

/** The prepared statements over the `responses` table; the writing ones only when read-write. */
interface Prepared {
  readonly select: Database.Statement<[string], Row>
  readonly insert: Database.Statement | undefined
  readonly count: Database.Statement<[], { n: number }>
  /** The keys after a key, in key order (the scan of {@link KeyFilter}). */
  readonly page: Database.Statement<[string, number], string>
  /** Inserts staged answers in one transaction. */
  readonly insertAll: ((rows: ReadonlyArray<Entry>) => void) | undefined
}

/** Sets the connection up: the busy timeout; when writing, the WAL journal and the table. */
const configure = (db: Database.Database, mode: "read-write" | "read-only"): void => {
  db.pragma("busy_timeout = 10000")
  if (mode !== "read-write") return
  // WAL with synchronous NORMAL: a commit appends to the log without an fsync, so committing
  // each answer on its own costs microseconds and survives kill -9 (not a power cut).
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  // A checkpoint (copying the log back into the database) fsyncs both files, on the thread that
  // commits: the client's event loop. Every 10,000 pages (about 40 MB of log) instead of
  // SQLite's 1,000: 60,000 answers committed one by one took 38 fsyncs instead of 311, and
  // 13 instead of 17 µs of CPU each.
  db.pragma("wal_autocheckpoint = 10000")
  db.exec(
    "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT NOT NULL, content TEXT NOT NULL, finish_reason TEXT, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID"
  )
}

/** Prepares the statements of a connection {@link configure}d for `mode`. */
const prepare = (db: Database.Database, mode: "read-write" | "read-only"): Prepared => {
  const select = db.prepare<[string], Row>(
    "SELECT content, finish_reason, prompt_tokens, completion_tokens FROM responses WHERE key = ?"
  )
  const insert =
    mode === "read-write"
      ? db.prepare(
          "INSERT OR REPLACE INTO responses (key, model, content, finish_reason, prompt_tokens, completion_tokens, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
      : undefined
  const count = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM responses")
  const page = db.prepare<[string, number], string>("SELECT key FROM responses WHERE key > ? ORDER BY key LIMIT ?").pluck()
  // Staged answers: one transaction for all of them. A commit writes each row's page once, and
  // SQLite's code and pages stay warm across the rows: 60,000 answers committed in batches of
  // the answers of one event-loop turn cost a fraction of the CPU of one commit each.
  const insertAll =
    insert === undefined
      ? undefined
      : db.transaction((rows: ReadonlyArray<Entry>) => {
          const now = Date.now()
          for (const { key: k, model, answer: a } of rows) {
            insert.run(k, model, a.content, a.finish_reason, a.usage.prompt_tokens, a.usage.completion_tokens, now)
          }
        })
  return { select, insert, count, page, insertAll }
}

/** Reads the committed answer for a key; a read error when SQLite cannot. */
const readAnswer = (file: string, select: Prepared["select"], k: string): Either.Either<Answer | undefined, LlmCacheError> => {
  try {
    const r = select.get(k)
    return Either.right(
      r === undefined
        ? undefined
        : {
            content: r.content,
            finish_reason: r.finish_reason,
            usage: { prompt_tokens: r.prompt_tokens, completion_tokens: r.completion_tokens }
          }
    )
  } catch (e) {
    return Either.left(cacheError(file, "read", e))
  }
}

/** Writes one answer as its own transaction (autocommit): committed before the caller uses it. */
const writeAnswer = (file: string, insert: Database.Statement, k: string, model: string, a: Answer): Either.Either<void, LlmCacheError> => {
  try {
    insert.run(k, model, a.content, a.finish_reason, a.usage.prompt_tokens, a.usage.completion_tokens, Date.now())
    return nothing
  } catch (e) {
    return Either.left(cacheError(file, "write", e))
  }
}

/** The entry's outcome is known: its waiters go on. */
const settle = (entry: Entry, outcome: Either.Either<void, LlmCacheError>): void => {
  entry.outcome = outcome
  const waiters = entry.waiters
  entry.waiters = undefined
  if (waiters !== undefined) for (const go of waiters) go()
}

/**
 * Answers staged and not committed yet, in order with their receipts' outcomes, and by key (a
 * lookup finds them until their commit is over). A receipt that waits ({@link Staged.whenCommitted})
 * has the answers of its turn committed in one transaction on a {@link CacheWriter} thread, started
 * on first use; the synchronous {@link commit} first waits for the batches sent to it, then commits
 * the rest on the client's connection. Batches commit in the order they were staged either way.
 */
class Staging {
  private pending: Array<Entry> = []
  private readonly byKey = new Map<string, Answer>()
  private writer: CacheWriter | undefined
  private writerFailed = false
  private scheduled = false

  /** Staging over the transaction that inserts what is staged. */
  constructor(
    private readonly file: string,
    private readonly insertAll: Prepared["insertAll"]
  ) {}

  /** The keys staged and not committed yet. */
  keys(): Iterable<string> {
    return this.byKey.keys()
  }

  /** The answer staged for a key, if any. */
  get(k: string): Answer | undefined {
    return this.byKey.size > 0 ? this.byKey.get(k) : undefined
  }

  /** Commits every staged answer: waits for the batches on the writer thread, then commits the rest in one transaction here. */
  readonly commit = (): void => {
    this.writer?.drain()
    if (this.pending.length === 0) return
    this.commitHere(this.take())
  }

  /** Waits for the writer thread's batches, commits what is left and ends the thread. */
  readonly close = (): void => {
    this.commit()
    this.writer?.close()
    this.writer = undefined
  }

  /** Stages an answer; its receipt commits first when no commit ran since. */
  stage(k: string, model: string, answer: Answer): Staged {
    // Two identical requests answered in one turn: both rows are written in order, the later wins
    // (as two stores would leave it).
    const entry: Entry = { key: k, model, answer, outcome: undefined, waiters: undefined }
    this.pending.push(entry)
    this.byKey.set(k, answer)
    return {
      result: () => {
        if (entry.outcome === undefined) this.commit()
        return entry.outcome ?? nothing
      },
      whenCommitted: (go) => {
        if (entry.outcome !== undefined) {
          go()
          return
        }
        if (entry.waiters === undefined) entry.waiters = [go]
        else entry.waiters.push(go)
        this.schedule()
      }
    }
  }

  /** Takes what is staged for a commit (it stays findable by key until the commit is over). */
  private take(): Array<Entry> {
    const rows = this.pending
    this.pending = []
    return rows
  }

  /** A commit of `rows` is over: lookups read them from the file, and their receipts have the outcome. */
  private committed(rows: ReadonlyArray<Entry>, outcome: Either.Either<void, LlmCacheError>): void {
    for (const r of rows) if (this.byKey.get(r.key) === r.answer) this.byKey.delete(r.key)
    for (const r of rows) settle(r, outcome)
  }

  /** Sends what is staged to the writer thread at the end of this turn of the event loop. */
  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.send()
    })
  }

  private send(): void {
    if (this.pending.length === 0) return
    const writer = this.writerOrNone()
    if (writer === undefined) {
      this.commit()
      return
    }
    const rows = this.take()
    writer.send(
      rows.map((r) => ({ key: r.key, model: r.model, content: r.answer.content, finish_reason: r.answer.finish_reason, prompt_tokens: r.answer.usage.prompt_tokens, completion_tokens: r.answer.usage.completion_tokens })),
      (failure) => {
        if (failure?.stopped === true) return this.writerStopped(rows)
        this.committed(rows, failure === undefined ? nothing : Either.left(cacheError(this.file, "write", Object.assign(new Error(failure.message), { code: failure.code }))))
      }
    )
  }

  /** The writer thread is gone with `rows` not committed: they, and every later commit, commit here. */
  private writerStopped(rows: ReadonlyArray<Entry>): void {
    this.writer = undefined
    this.writerFailed = true
    this.commitHere(rows)
  }

  /** Commits `rows` in one transaction on the client's connection. */
  private commitHere(rows: ReadonlyArray<Entry>): void {
    let outcome: Either.Either<void, LlmCacheError> = nothing
    try {
      this.insertAll?.(rows)
    } catch (e) {
      outcome = Either.left(cacheError(this.file, "write", e))
    }
    this.committed(rows, outcome)
  }

  /** The writer thread, started on first use; none when it cannot start (commits then run here). */
  private writerOrNone(): CacheWriter | undefined {
    if (this.writer !== undefined || this.writerFailed || this.insertAll === undefined) return this.writer
    try {
      this.writer = new CacheWriter(this.file)
    } catch {
      this.writerFailed = true
    }
    return this.writer
  }
}

/** The value of a cache result, throwing its {@link LlmCacheError}. */
const orThrow = <A>(r: Either.Either<A, LlmCacheError>): A => {
  if (Either.isLeft(r)) throw r.left
  return r.right
}

/** The cache over an open connection: its statements, what is staged, and the operations over both. */
const statements = (file: string, db: Database.Database, mode: "read-write" | "read-only"): ResponseCache & { readonly close: () => void } => {
  configure(db, mode)
  const { select, insert, count, page, insertAll } = prepare(db, mode)
  const staging = new Staging(file, insertAll)
  const { commit } = staging
  const keys = new KeyFilter((after, limit) => page.all(after, limit), () => staging.keys())
  const lookup = (k: string): Either.Either<Answer | undefined, LlmCacheError> => {
    const staged = staging.get(k)
    if (staged !== undefined) return Either.right(staged)
    if (!keys.mustRead(k)) return nothing
    const read = readAnswer(file, select, k)
    if (Either.isRight(read) && read.right === undefined) keys.missed()
    return read
  }
  const store = (k: string, model: string, a: Answer): Either.Either<void, LlmCacheError> => {
    if (insert === undefined) return nothing
    keys.stored(k)
    // After what was staged before it (and without waiting on the writer thread's lock).
    commit()
    return writeAnswer(file, insert, k, model, a)
  }
  return {
    mode,
    lookup,
    store,
    get: (k) => orThrow(lookup(k)),
    put: (k, model, answer) => orThrow(store(k, model, answer)),
    stage: (k, model, answer) => {
      if (insert === undefined) return stored
      keys.stored(k)
      return staging.stage(k, model, answer)
    },
    commit,
    size: () => {
      commit()
      return count.get()?.n ?? 0
    },
    flush: commit,
    close: staging.close
  }
}

/** The response cache of a run: one file, opened once on first use, shared by every caller. */
export interface ResponsesService {
  /** The cache file (absolute). */
  readonly file: string
  readonly mode: CacheMode
  /** The cache, opened (created when needed, unless read-only) by the first caller; closed with the run. */
  readonly open: Effect.Effect<ResponseCache, LlmConfigError>
}

/** The response cache of a run. */
export class Responses extends Context.Tag("@synthline/llm/Cache/Responses")<Responses, ResponsesService>() {}

/** The service over `file`, opened on first use and closed with the scope. */
export const responses = (file: string, mode: CacheMode): Effect.Effect<ResponsesService, never, Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) =>
    Effect.map(Effect.cached(Scope.extend(open(file, mode), scope)), (opened) => ({ file, mode, open: opened }))
  )

const isCacheSection = Schema.is(CacheSection)

/**
 * The service of a run, from the pipeline file's `cache` section (default: read-write at
 * `.synthline/cache.sqlite`, relative to the pipeline file). Every layer that needs the cache
 * provides itself with this one value, so a run builds it — and opens the file — once.
 */
export const layer: Layer.Layer<Responses, never, RunContext> = Layer.scoped(
  Responses,
  Effect.gen(function* () {
    const run = yield* RunContext
    const section = run.sections.cache
    const config = section !== undefined && isCacheSection(section) ? section : Schema.decodeSync(CacheSection)({})
    return yield* responses(isAbsolute(config.path) ? config.path : resolve(run.baseDir, config.path), config.mode)
  })
)
