/**
 * The persistent response cache: answers keyed by the full request (model, messages, sampling
 * parameters, seed, sample index) in a SQLite file, so a rerun or a resumed run sends no
 * request whose answer is cached. Each answer is committed as it arrives (WAL journal), so a
 * `kill -9` loses at most the requests that were in flight.
 */
import Database from "better-sqlite3"
import { createHash } from "node:crypto"
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"
import { Effect, type Scope } from "effect"
import type { ChatRequest, Completion } from "./Chat.js"
import type { CacheMode } from "./Config.js"
import { LlmConfigError } from "./Errors.js"

/** A response cache. */
export interface ResponseCache {
  readonly mode: CacheMode
  /** The cached answer for a key, if any. */
  readonly get: (key: string) => Omit<Completion, "cached"> | undefined
  /** Stores an answer (a no-op unless the mode is `read-write`). */
  readonly put: (key: string, model: string, answer: Omit<Completion, "cached">) => void
  /** Number of answers stored. */
  readonly size: () => number
  /** Commits the answers not yet written. */
  readonly flush: () => void
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

/** A cache that stores nothing. */
export const off: ResponseCache = { mode: "off", get: () => undefined, put: () => undefined, size: () => 0, flush: () => undefined }

const BATCH = 256
const FLUSH_MS = 50

/** Opens (creating when needed, unless read-only) the SQLite cache at `file`, closed with the scope. */
export const open = (file: string, mode: CacheMode): Effect.Effect<ResponseCache, LlmConfigError, Scope.Scope> => {
  if (mode === "off") return Effect.succeed(off)
  const failure = (e: unknown) =>
    new LlmConfigError({
      reason: `cannot open the response cache ${file} (${mode}): ${e instanceof Error ? e.message : String(e)}`
    })
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
    Effect.flatMap((db) => Effect.try({ try: () => statements(db, mode), catch: failure })),
    // Released before the database closes (finalizers run in reverse order).
    Effect.tap((cache) => Effect.addFinalizer(() => Effect.sync(() => cache.flush())))
  )
}

const statements = (db: Database.Database, mode: "read-write" | "read-only"): ResponseCache => {
  db.pragma("busy_timeout = 10000")
  if (mode === "read-write") {
    db.pragma("journal_mode = WAL")
    db.pragma("synchronous = NORMAL")
    db.exec(
      "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT NOT NULL, content TEXT NOT NULL, finish_reason TEXT, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID"
    )
  }
  const select = db.prepare<
    [string],
    { content: string; finish_reason: string | null; prompt_tokens: number; completion_tokens: number }
  >("SELECT content, finish_reason, prompt_tokens, completion_tokens FROM responses WHERE key = ?")
  const insert =
    mode === "read-write"
      ? db.prepare(
          "INSERT OR REPLACE INTO responses (key, model, content, finish_reason, prompt_tokens, completion_tokens, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
      : undefined
  const count = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM responses")
  type Answer = Omit<Completion, "cached">
  const pending = new Map<string, { readonly model: string; readonly answer: Answer }>()
  let timer: ReturnType<typeof setTimeout> | undefined
  const writeAll = insert
    ? db.transaction((entries: ReadonlyArray<[string, { readonly model: string; readonly answer: Answer }]>) => {
        const now = Date.now()
        for (const [k, { model, answer: a }] of entries) {
          insert.run(k, model, a.content, a.finish_reason, a.usage.prompt_tokens, a.usage.completion_tokens, now)
        }
      })
    : undefined
  const flush = (): void => {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    if (pending.size === 0 || writeAll === undefined) return
    const entries = [...pending]
    pending.clear()
    writeAll(entries)
  }
  return {
    mode,
    get: (k) => {
      const p = pending.get(k)
      if (p !== undefined) return p.answer
      const r = select.get(k)
      return r === undefined
        ? undefined
        : {
            content: r.content,
            finish_reason: r.finish_reason,
            usage: { prompt_tokens: r.prompt_tokens, completion_tokens: r.completion_tokens }
          }
    },
    put: (k, model, answer) => {
      if (writeAll === undefined) return
      pending.set(k, { model, answer })
      if (pending.size >= BATCH) flush()
      else if (timer === undefined) timer = setTimeout(flush, FLUSH_MS)
    },
    size: () => {
      flush()
      return count.get()?.n ?? 0
    },
    flush
  }
}
