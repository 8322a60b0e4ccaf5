/**
 * The model fleet of the llm-occupancy benchmark, as its own process (so it runs on the other
 * core than the CLI): `tsx bench/src/llm-occupancy-server.ts [ENDPOINTS_PER_MODEL]` starts
 * ENDPOINTS_PER_MODEL (default 4) OpenAI-compatible test servers (`@synthline/llm/TestServer`)
 * for each of the models `gen` and `judge`, each on its own 127.0.0.1 port, plus a control
 * server, and prints one JSON line `{ control, gen: [baseUrl…], judge: [baseUrl…] }`.
 *
 * Every chat request waits a latency drawn for it (see {@link drawLatency}): log-normal by
 * default, deterministic in (model, messages, seed, how many identical requests came before),
 * so a rerun sees the same latencies whatever order the client sends in. The server stamps,
 * per model, when each chat request arrived (its body read) and when its answer was sent,
 * with `performance.now()` of this process.
 *
 * Control (on `control`):
 * - `POST /_reset` with a {@link Mode} as JSON body: forget all stamps and use this mode;
 * - `GET /_occupancy`: the stamps of every chat request, see {@link Occupancy}.
 *
 * Answers: `gen` answers `«g:<id>» ` followed by about `answer_bytes` bytes of prose (`<id>` is
 * the request's arrival index, so a judge prompt quoting the answer names the generate
 * request it judges); `judge` answers a short judgement ending in `Rating: [[k]]`.
 */
import { createHash } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { performance } from "node:perf_hooks"
import { pathToFileURL } from "node:url"
import { type ChatReply, type ReceivedChat, start, type TestServer } from "@synthline/llm/TestServer"

/** How answer times are drawn, and what the answers look like. */
export interface Mode {
  /** `lognormal` (default): median `median_ms`, shape `sigma`, at most `max_ms`; `fixed`: always `fixed_ms`. */
  readonly latency?: "lognormal" | "fixed"
  readonly median_ms?: number
  readonly sigma?: number
  readonly max_ms?: number
  readonly fixed_ms?: number
  /** The `index`-th chat request (1-based, in arrival order) to model `model` takes `ms` instead. */
  readonly straggler?: { readonly model: string; readonly index: number; readonly ms: number } | null
  /** Bytes of prose in a `gen` answer (default 1,500). */
  readonly answer_bytes?: number
}

/** The defaults: DESIGN §5's log-normal (median 400 ms, sigma 1.2), truncated at 15 s (≈ p99.85). */
export const defaultMode = { latency: "lognormal", median_ms: 400, sigma: 1.2, max_ms: 15_000, fixed_ms: 100, answer_bytes: 1500 } as const

/** The stamps of one model's chat requests, in arrival order (ms on the server's clock). */
export interface ModelStamps {
  readonly arrivals: ReadonlyArray<number>
  /** When its answer was sent; null while it is still being answered. */
  readonly completions: ReadonlyArray<number | null>
  /** The latency drawn for it (ms). */
  readonly drawn: ReadonlyArray<number>
  /** For `judge`: the arrival index of the `gen` request whose answer it judges (-1 when none is quoted). */
  readonly parents: ReadonlyArray<number>
  /** Chat requests answered by each endpoint. */
  readonly perEndpoint: ReadonlyArray<number>
}

/** What `GET /_occupancy` returns. */
export interface Occupancy {
  readonly mode: Mode
  /** CPU time (user + system) of the server process since the last reset, ms. */
  readonly cpu_ms: number
  readonly models: { readonly [model: string]: ModelStamps }
}

const u32 = (b: Buffer, at: number) => b.readUInt32BE(at) / 2 ** 32

/**
 * The latency of one request in `mode`: a standard normal from two 32-bit words of
 * sha256(model, messages, seed, occurrence) by Box–Muller, then `median · e^(sigma·z)`,
 * capped at `max_ms`.
 */
export const drawLatency = (mode: Mode, model: string, request: ReceivedChat, occurrence: number): number => {
  if ((mode.latency ?? defaultMode.latency) === "fixed") return mode.fixed_ms ?? defaultMode.fixed_ms
  const h = createHash("sha256").update(JSON.stringify([model, request.messages, request.seed ?? null, occurrence])).digest()
  const u1 = 1 - u32(h, 0) // (0, 1]
  const u2 = u32(h, 4)
  const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)
  const ms = (mode.median_ms ?? defaultMode.median_ms) * Math.exp((mode.sigma ?? defaultMode.sigma) * z)
  return Math.min(mode.max_ms ?? defaultMode.max_ms, ms)
}

const words =
  "the a model answer question data value system result first second example because however therefore process request simple "
    .concat("important different language number function should could would between within without through during before after ")
    .concat("write explain consider step method approach problem solution response context detail important common useful")
    .split(" ")

/** ~64 KB of deterministic prose that answers are cut from. */
const prose = (() => {
  let s = 0x9e3779b9
  const next = () => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return (s >>> 0) / 2 ** 32
  }
  const parts: Array<string> = []
  let len = 0
  while (len < 65_536) {
    const n = 6 + Math.floor(next() * 14)
    const sentence = Array.from({ length: n }, () => words[Math.floor(next() * words.length)]!).join(" ")
    const text = `${sentence.charAt(0).toUpperCase()}${sentence.slice(1)}. `
    parts.push(text)
    len += text.length
  }
  return parts.join("")
})()

const proseOf = (h: Buffer, bytes: number): string => {
  const at = h.readUInt32BE(8) % (prose.length - bytes - 1)
  return prose.slice(at, at + bytes)
}

const PARENT = /«g:(\d+)»/

interface Recorder {
  arrivals: Array<number>
  completions: Array<number | null>
  drawn: Array<number>
  parents: Array<number>
  perEndpoint: Array<number>
  seen: Map<string, number>
}

/** A running fleet. */
export interface Fleet {
  readonly control: string
  readonly endpoints: { readonly [model: string]: ReadonlyArray<string> }
  readonly reset: (mode: Mode) => void
  readonly occupancy: () => Occupancy
  readonly close: () => Promise<void>
}

/** Starts `perModel` endpoints for each model in `models` and the control server. */
export const startFleet = async (perModel = 4, models: ReadonlyArray<string> = ["gen", "judge"]): Promise<Fleet> => {
  let mode: Mode = { ...defaultMode }
  let cpuAtReset = process.cpuUsage()
  const recorders = new Map<string, Recorder>()
  const fresh = (): Recorder => ({ arrivals: [], completions: [], drawn: [], parents: [], perEndpoint: Array.from({ length: perModel }, () => 0), seen: new Map() })
  for (const m of models) recorders.set(m, fresh())
  const ids = new WeakMap<ReceivedChat, number>()
  const servers: Array<TestServer> = []
  const endpoints: { [model: string]: Array<string> } = {}

  for (const model of models) {
    endpoints[model] = []
    for (let e = 0; e < perModel; e++) {
      const server = await start({
        latency: (request) => {
          const r = recorders.get(model)!
          // Only a log-normal draw depends on how many identical requests came before: at a fixed
          // latency the server spends no hash on it (case d's 5,120 requests/s share 2 cores with the client).
          let occurrence = 0
          if ((mode.latency ?? defaultMode.latency) !== "fixed") {
            const key = createHash("sha256").update(JSON.stringify([request.messages, request.seed ?? null])).digest("base64")
            occurrence = r.seen.get(key) ?? 0
            r.seen.set(key, occurrence + 1)
          }
          const id = r.arrivals.length
          ids.set(request, id)
          const s = mode.straggler
          const ms = s && s.model === model && s.index === id + 1 ? s.ms : drawLatency(mode, model, request, occurrence)
          const last = request.messages[request.messages.length - 1]?.content ?? ""
          const parent = PARENT.exec(last)
          r.arrivals.push(performance.now())
          r.completions.push(null)
          r.drawn.push(ms)
          r.parents.push(parent ? Number(parent[1]) : -1)
          return ms
        },
        chat: (request): ChatReply => {
          const r = recorders.get(model)!
          const id = ids.get(request) ?? -1
          if (id >= 0) r.completions[id] = performance.now()
          r.perEndpoint[e] = (r.perEndpoint[e] ?? 0) + 1
          const h = createHash("sha256").update(JSON.stringify([id, request.messages.length])).digest()
          if (model === "judge") {
            const score = h[0]! % 11
            const content = `The answer follows the instruction and is mostly correct, though it could be more concise. Rating: [[${score}]]`
            return { content, prompt_tokens: 400, completion_tokens: 30 }
          }
          const bytes = mode.answer_bytes ?? defaultMode.answer_bytes
          const content = `«g:${id}» ${proseOf(h, bytes)}`
          return { content, prompt_tokens: 100, completion_tokens: Math.ceil(content.length / 4) }
        }
      })
      servers.push(server)
      endpoints[model].push(server.baseUrl)
    }
  }

  const reset = (m: Mode) => {
    mode = { ...defaultMode, ...m }
    for (const name of models) recorders.set(name, fresh())
    cpuAtReset = process.cpuUsage()
  }
  const occupancy = (): Occupancy => ({
    mode,
    cpu_ms: (({ user, system }) => (user + system) / 1000)(process.cpuUsage(cpuAtReset)),
    models: Object.fromEntries(
      [...recorders].map(([name, r]) => [
        name,
        { arrivals: r.arrivals, completions: r.completions, drawn: r.drawn, parents: r.parents, perEndpoint: r.perEndpoint }
      ])
    )
  })

  const reply = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body)
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
    res.end(text)
  }
  const readAll = (req: IncomingMessage) =>
    new Promise<string>((resolve, reject) => {
      const parts: Array<Buffer> = []
      req.on("data", (b: Buffer) => parts.push(b))
      req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")))
      req.on("error", reject)
    })
  const control = createServer((req, res) => {
    readAll(req).then(
      (text) => {
        if (req.method === "POST" && req.url === "/_reset") {
          reset(text.trim() === "" ? {} : (JSON.parse(text) as Mode))
          return reply(res, 200, { ok: true, mode })
        }
        if (req.method === "GET" && req.url === "/_occupancy") return reply(res, 200, occupancy())
        return reply(res, 404, { error: `no route ${req.method} ${req.url}` })
      },
      (e: unknown) => reply(res, 500, { error: String(e) })
    )
  })
  await new Promise<void>((resolve) => control.listen(0, "127.0.0.1", resolve))
  const address: AddressInfo | string | null = control.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  return {
    control: `http://127.0.0.1:${port}`,
    endpoints,
    reset,
    occupancy,
    close: async () => {
      await Promise.all(servers.map((s) => s.close()))
      await new Promise<void>((resolve) => control.close(() => resolve()))
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const fleet = await startFleet(Number(process.argv[2] ?? "4"))
  process.stdout.write(`${JSON.stringify({ control: fleet.control, ...fleet.endpoints })}\n`)
  process.on("SIGTERM", () => {
    fleet.close().then(() => process.exit(0))
  })
}
