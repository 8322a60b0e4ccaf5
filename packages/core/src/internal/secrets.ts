/**
 * Secrets a run must never write: the values of `${VAR}` references whose name contains KEY,
 * TOKEN, SECRET or PASSWORD, every value a config Schema decodes as `Redacted`, and secret-named
 * environment variables (the keys plugins read by default, such as `OPENAI_API_KEY`). A
 * {@link Scrubber} replaces them with `<redacted>` in whatever a run writes or prints: manifest,
 * rejects, completion markers, dataset cards, progress events and error messages. Scrubbing is
 * linear in the text (one `split`/`join` per secret).
 */
import { Redacted } from "effect"
import { RunError, SinkError, SourceError, StageError } from "../Errors.js"
import type { ResolvedPipeline } from "../Pipeline.js"
import type { RunEvent, Snapshot } from "../Progress.js"
import { isRecord as isJsonObject } from "../Row.js"

/** What a secret is replaced with. */
export const mask: string = "<redacted>"

/** Whether an environment variable's name marks its value as a secret (contains KEY, TOKEN, SECRET or PASSWORD). */
export const isSecretName = (name: string): boolean => /KEY|TOKEN|SECRET|PASSWORD/i.test(name)

/** Shortest value scrubbed: shorter ones cannot be keys, and replacing them would garble output. */
export const minLength: number = 4

/** Shortest value of a secret-named environment variable the pipeline does not reference that is scrubbed. */
export const minEnvLength: number = 8

/** A plain object (not a class instance such as a `Redacted` or a `Date`). */
const isRecord = (u: unknown): u is { readonly [key: string]: unknown } => isJsonObject(u) && Object.getPrototypeOf(u) === Object.prototype

/** The values of every `Redacted` inside a decoded config (plain objects and arrays are searched). */
export const redactedValues = (value: unknown): Array<string> => {
  const out: Array<string> = []
  const walk = (u: unknown, depth: number): void => {
    if (depth > 64) return
    if (Redacted.isRedacted(u)) {
      const v: unknown = Redacted.value(u)
      if (typeof v === "string") out.push(v)
      return
    }
    if (Array.isArray(u)) for (const x of u) walk(x, depth + 1)
    else if (isRecord(u)) for (const x of Object.values(u)) walk(x, depth + 1)
  }
  walk(value, 0)
  return out
}

/** The values of secret-named variables in an environment that are at least {@link minEnvLength} long. */
export const fromEnv = (env: { readonly [key: string]: string | undefined }): Array<string> =>
  Object.entries(env).flatMap(([name, v]) => (v !== undefined && v.length >= minEnvLength && isSecretName(name) ? [v] : []))

/** Replaces known secrets in text, values, events and errors. */
export interface Scrubber {
  /** The secrets, longest first. */
  readonly secrets: ReadonlyArray<string>
  /** Text with every secret (and its JSON-escaped form) replaced by `<redacted>`. */
  readonly text: (s: string) => string
  /** A JSON value with every string and key scrubbed; keys that become equal are merged (numbers summed). */
  readonly json: (u: unknown) => unknown
  /** A string-keyed record scrubbed like {@link Scrubber.json}. */
  readonly record: (r: { readonly [key: string]: unknown }) => { [key: string]: unknown }
  /** A run event with its texts scrubbed. */
  readonly event: (e: RunEvent) => RunEvent
  /** An error of the runner with its texts scrubbed. */
  readonly error: <E>(e: E) => E
}

/** Makes a scrubber for these secrets (values shorter than {@link minLength} are ignored). */
export const make = (secrets: Iterable<string>): Scrubber => {
  const forms = new Set<string>()
  for (const s of secrets) {
    if (s.length < minLength) continue
    forms.add(s)
    const escaped = JSON.stringify(s).slice(1, -1)
    if (escaped !== s) forms.add(escaped)
    const encoded = encodeURIComponent(s)
    if (encoded !== s) forms.add(encoded)
  }
  const list = [...forms].sort((a, b) => b.length - a.length)
  const text = (s: string): string => {
    let out = s
    for (const secret of list) if (out.includes(secret)) out = out.split(secret).join(mask)
    return out
  }
  const merge = (a: unknown, b: unknown): unknown => {
    if (typeof a === "number" && typeof b === "number") return a + b
    if (isRecord(a) && isRecord(b)) {
      const out: { [key: string]: unknown } = { ...a }
      for (const [k, v] of Object.entries(b)) out[k] = k in out ? merge(out[k], v) : v
      return out
    }
    return a
  }
  const record = (r: { readonly [key: string]: unknown }): { [key: string]: unknown } => {
    const out: { [key: string]: unknown } = {}
    for (const [k, v] of Object.entries(r)) {
      const key = text(k)
      const value = json(v)
      out[key] = key in out ? merge(out[key], value) : value
    }
    return out
  }
  const json = (u: unknown): unknown => {
    if (typeof u === "string") return text(u)
    if (Array.isArray(u)) return u.map(json)
    if (isRecord(u)) return record(u)
    return u
  }
  const snapshot = (s: Snapshot): Snapshot => ({ ...s, stages: s.stages.map((st) => ({ ...st, id: text(st.id) })) })
  const event = (e: RunEvent): RunEvent => {
    switch (e.type) {
      case "start":
        return { ...e, name: text(e.name) }
      case "progress":
      case "interrupted":
        return { ...e, snapshot: snapshot(e.snapshot) }
      case "unit":
        return { ...e, unit: text(e.unit), snapshot: snapshot(e.snapshot) }
      case "warning":
        return { ...e, message: text(e.message) }
      case "stage":
        return { ...e, stage: text(e.stage), message: text(e.message) }
      case "finish":
        return {
          ...e,
          snapshot: snapshot(e.snapshot),
          manifest: text(e.manifest),
          output: text(e.output),
          ...(e.branches !== undefined ? { branches: e.branches.map((b) => ({ ...b, name: text(b.name), path: text(b.path) })) } : {})
        }
    }
  }
  const error = <E>(e: E): E => {
    if (e instanceof RunError) Object.assign(e, { reason: text(e.reason) })
    else if (e instanceof SinkError) Object.assign(e, { path: text(e.path), reason: text(e.reason) })
    else if (e instanceof SourceError) Object.assign(e, { file: text(e.file), reason: text(e.reason) })
    else if (e instanceof StageError) Object.assign(e, { stage: text(e.stage), reason: text(e.reason) })
    return e
  }
  if (list.length === 0) {
    return { secrets: list, text: (s) => s, json: (u) => u, record: (r) => ({ ...r }), event: (e) => e, error: (e) => e }
  }
  return { secrets: list, text, json, record, event, error }
}

/**
 * The secrets of a resolved pipeline: the values of the secret-named `${VAR}` references it was
 * decoded with, every `Redacted` value of its source, stage, sink and section configs, and the
 * secret-named variables of `env` (default `process.env`).
 */
export const ofPipeline = (
  pipeline: ResolvedPipeline,
  env: { readonly [key: string]: string | undefined } = process.env
): Scrubber =>
  make([
    ...(pipeline.secrets ?? []),
    ...redactedValues(pipeline.source.config),
    ...pipeline.stages.flatMap((s) => redactedValues(s.config)),
    ...redactedValues(pipeline.sink.config),
    ...[...pipeline.branches.values()].flatMap((b) => redactedValues(b.config)),
    ...redactedValues(pipeline.sections),
    ...fromEnv(env)
  ])
