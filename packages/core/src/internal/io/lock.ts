/**
 * Lock files in a sink folder's `_state/`: a run (one per shard) or a merge holds one while it
 * writes there, so a second process refuses instead of truncating and renaming the first one's
 * files. A lock is created with O_EXCL and holds the holder's pid, host and start time; it is
 * removed when the scope closes (success, failure or interrupt). A lock left by a process that
 * died (`kill -9`, a crash) is taken over when it is on this host and its pid is gone; one left
 * on another host is never guessed about: the message says how to remove it.
 */
import { Effect, type Scope } from "effect"
import { randomUUID } from "node:crypto"
import * as nodeFs from "node:fs/promises"
import * as os from "node:os"
import * as nodePath from "node:path"
import { errorText, RunError } from "../../Errors.js"

/** What a lock file holds. */
export interface LockHolder {
  readonly pid: number
  readonly host: string
  readonly started_at: string
  /** What holds it: `synthline run`, `synthline merge`. */
  readonly purpose: string
  readonly token: string
}

/** A lock file in use by someone else. */
export interface HeldLock {
  readonly file: string
  readonly holder: LockHolder | undefined
}

const errorCode = (e: unknown): string | undefined =>
  typeof e === "object" && e !== null && "code" in e && typeof e.code === "string" ? e.code : undefined

const isHolder = (u: unknown): u is LockHolder =>
  typeof u === "object" &&
  u !== null &&
  "pid" in u &&
  typeof u.pid === "number" &&
  "host" in u &&
  typeof u.host === "string" &&
  "started_at" in u &&
  typeof u.started_at === "string" &&
  "token" in u &&
  typeof u.token === "string"

/** The lock file's holder; `undefined` when it is not there, `"unreadable"` when it holds no valid record. */
const readHolder = async (file: string): Promise<LockHolder | "unreadable" | undefined> => {
  let text: string
  try {
    text = await nodeFs.readFile(file, "utf8")
  } catch (e) {
    if (errorCode(e) === "ENOENT") return undefined
    throw e
  }
  try {
    const parsed: unknown = JSON.parse(text)
    return isHolder(parsed) ? parsed : "unreadable"
  } catch {
    return "unreadable"
  }
}

/** Whether process `pid` of this host is running (a process we may not signal is running). */
const alive = (pid: number): boolean => {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return errorCode(e) === "EPERM"
  }
}

/** A lock file left empty or garbled (a crash between create and write) is stale after this long. */
const unreadableStaleMs = 10_000

type Verdict = { readonly _tag: "live" } | { readonly _tag: "stale"; readonly why: string }

const judge = async (file: string, holder: LockHolder | "unreadable"): Promise<Verdict> => {
  if (holder === "unreadable") {
    const age = Date.now() - (await nodeFs.stat(file)).mtimeMs
    return age > unreadableStaleMs ? { _tag: "stale", why: "it held no valid lock record" } : { _tag: "live" }
  }
  if (holder.host !== os.hostname()) return { _tag: "live" }
  return alive(holder.pid)
    ? { _tag: "live" }
    : { _tag: "stale", why: `pid ${holder.pid} (${holder.purpose}, started ${holder.started_at}) is no longer running` }
}

/** Who holds `file`, in words. */
export const describeHolder = (held: HeldLock): string =>
  held.holder === undefined
    ? `${held.file} (its holder is not recorded)`
    : `${held.file}, held by ${held.holder.purpose} (pid ${held.holder.pid} on host ${held.holder.host}, started ${held.holder.started_at})`

const removalHint = (held: HeldLock): string =>
  held.holder !== undefined && held.holder.host !== os.hostname()
    ? `; it was taken on another host, so it is not checked from here: if no process is writing there any more, delete ${held.file}`
    : `; wait for it to finish or stop it (if it is not running, delete ${held.file})`

/** Takes a stale lock away: renamed to a unique name, checked to be the one judged stale, then removed. */
const takeOver = async (file: string, seen: LockHolder | "unreadable"): Promise<boolean> => {
  const aside = `${file}.stale-${process.pid}-${randomUUID().slice(0, 8)}`
  try {
    await nodeFs.rename(file, aside)
  } catch (e) {
    if (errorCode(e) === "ENOENT") return true
    throw e
  }
  const moved = await readHolder(aside)
  const same = seen === "unreadable" ? moved === "unreadable" : typeof moved === "object" && moved.token === seen.token
  if (!same) {
    // Someone took the lock between our read and the rename: put theirs back.
    await nodeFs.link(aside, file).catch(() => {})
  }
  await nodeFs.rm(aside, { force: true })
  return same
}

/**
 * Takes the lock `file` for the scope, or fails with exit code 2 naming the holder. `warn` is
 * told when a stale lock is taken over.
 */
export const acquire = (
  file: string,
  purpose: string,
  writing: string,
  warn: (message: string) => void
): Effect.Effect<LockHolder, RunError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async (): Promise<LockHolder | HeldLock> => {
        await nodeFs.mkdir(nodePath.dirname(file), { recursive: true })
        const me: LockHolder = {
          pid: process.pid,
          host: os.hostname(),
          started_at: new Date().toISOString(),
          purpose,
          token: randomUUID()
        }
        for (let attempt = 0; attempt < 5; attempt++) {
          try {
            const handle = await nodeFs.open(file, "wx")
            try {
              await handle.writeFile(`${JSON.stringify(me)}\n`)
              await handle.sync()
            } finally {
              await handle.close()
            }
            return me
          } catch (e) {
            if (errorCode(e) !== "EEXIST") throw e
          }
          const holder = await readHolder(file)
          if (holder === undefined) continue
          const verdict = await judge(file, holder)
          if (verdict._tag === "live") return { file, holder: holder === "unreadable" ? undefined : holder }
          if (await takeOver(file, holder)) warn(`took over the stale lock ${file}: ${verdict.why}`)
        }
        return { file, holder: undefined }
      },
      catch: (e) => new RunError({ reason: `cannot take the lock ${file}: ${errorText(e)}`, exitCode: 1 })
    }).pipe(
      Effect.flatMap((got) =>
        "token" in got
          ? Effect.succeed(got)
          : Effect.fail(
              new RunError({
                reason: `${writing} is being written by another process: lock ${describeHolder(got)}${removalHint(got)}`,
                exitCode: 2
              })
            )
      )
    ),
    (me) => Effect.promise(() => release(file, me))
  )

/** Removes `file` if it is still `me`'s lock. */
const release = async (file: string, me: LockHolder): Promise<void> => {
  const holder = await readHolder(file).catch(() => undefined)
  if (typeof holder === "object" && holder.token === me.token) await nodeFs.rm(file, { force: true }).catch(() => {})
}

/** The live locks among the `*.lock` files of `dir` whose names pass `include`. */
export const liveLocks = (dir: string, include: (name: string) => boolean): Effect.Effect<ReadonlyArray<HeldLock>> =>
  Effect.promise(async () => {
    const names = await nodeFs.readdir(dir).catch((): Array<string> => [])
    const out: Array<HeldLock> = []
    for (const name of names.filter((n) => n.endsWith(".lock") && include(n)).sort()) {
      const file = nodePath.join(dir, name)
      const holder = await readHolder(file).catch((): "unreadable" => "unreadable")
      if (holder === undefined) continue
      const verdict = await judge(file, holder).catch((): Verdict => ({ _tag: "live" }))
      if (verdict._tag === "live") out.push({ file, holder: holder === "unreadable" ? undefined : holder })
    }
    return out
  })

/** Fails with exit code 2 when one of `held` is live. */
export const refuseIfHeld = (held: ReadonlyArray<HeldLock>, writing: string): Effect.Effect<void, RunError> => {
  const first = held[0]
  return first === undefined
    ? Effect.void
    : Effect.fail(
        new RunError({
          reason: `${writing} is being written by another process: lock ${describeHolder(first)}${removalHint(first)}`,
          exitCode: 2
        })
      )
}
