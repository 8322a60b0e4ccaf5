// The CLI's per-user cache folder (bin/hooks.mjs keeps compiled TypeScript plugins there,
// bin/shared.mjs V8's code cache of the bundle): files in it run as code, so only a folder
// this user owns and no one else can write to is used.
import { mkdirSync, renameSync, statSync, writeFileSync } from "node:fs"
import { tmpdir, userInfo } from "node:os"
import { join } from "node:path"

/**
 * `folder` (default: SYNTHLINE_COMPILE_CACHE, else synthline-ts-<uid> in the temp folder), created
 * private to this user; undefined where it exists but is someone else's or writable by others.
 */
export const cacheFolder = (folder = process.env.SYNTHLINE_COMPILE_CACHE || undefined) => {
  const uid = typeof process.getuid === "function" ? process.getuid() : undefined
  const dir = folder ?? join(tmpdir(), `synthline-ts-${uid ?? userInfo().username}`)
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const s = statSync(dir)
    if (uid !== undefined && (s.uid !== uid || (s.mode & 0o022) !== 0)) return undefined
    return dir
  } catch {
    return undefined
  }
}

/** Writes `bytes` to `file` whole or not at all (a temporary file renamed); a failure only costs the cache. */
export const writeCached = (file, bytes) => {
  try {
    const partial = `${file}.${process.pid}.tmp`
    writeFileSync(partial, bytes, { mode: 0o600 })
    renameSync(partial, file)
  } catch {
    // no cache this time: the next run compiles again
  }
}
