/**
 * The built docs site (`pnpm --filter docs build`, run by the test command before vitest),
 * served on 127.0.0.1 and driven by headless Chromium (the system's, or the one the
 * @sparticuz/chromium package ships: scripts/test-tools.ts, run as this project's globalSetup,
 * finds or provides it): every page loads without console errors,
 * no internal link or anchor is broken, the local search finds a stage by its id, every stage
 * `synthline stages --json` lists for the workspace's plugins has a reference entry (and every
 * option a description), and every source, sink, plugin section (`models`, `cache`) and model
 * provider `synthline schema` knows has one too.
 */
import { spawn } from "node:child_process"
import { existsSync, readFileSync, statSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { extname, join, normalize } from "node:path"
import { type Browser, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { pluginPackages, repoRoot } from "../scripts/workspace.js"

const dist = join(import.meta.dirname, "../.vitepress/dist")

declare module "vitest" {
  interface ProvidedContext {
    /** The browser the globalSetup found or provided (scripts/test-tools.ts). */
    chromium: { readonly executablePath: string; readonly env: { readonly [name: string]: string }; readonly origin: string }
  }
}

const types: { readonly [ext: string]: string } = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".css": "text/css",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".woff2": "font/woff2",
  ".png": "image/png"
}

/** A static file server for the built site: `/x/` serves `x/index.html`, anything missing is a 404. */
const serve = (): Promise<{ server: Server; origin: string }> =>
  new Promise((resolve) => {
    const server = createServer((req, res) => {
      const pathname = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)
      let file = normalize(join(dist, pathname))
      if (!file.startsWith(dist)) file = dist
      if (existsSync(file) && statSync(file).isDirectory()) file = join(file, "index.html")
      if (!existsSync(file)) {
        res.writeHead(404, { "content-type": "text/plain" }).end(`not found: ${pathname}`)
        return
      }
      res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" }).end(readFileSync(file))
    })
    server.listen(0, "127.0.0.1", () => resolve({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }))
  })

interface StageJson {
  readonly id: string
  readonly plugin: string
  readonly options: ReadonlyArray<{ readonly name: string; readonly description?: string }>
}

/**
 * Runs `synthline <command> --plugin …` from source with every workspace plugin package
 * (`packages/plugin-*`, `packages/provider-*`, `packages/llm`) that exports a plugin; returns
 * its JSON output.
 */
const cliJson = async (command: ReadonlyArray<string>): Promise<unknown> => {
  const run = (plugins: ReadonlyArray<string>) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "--conditions=@synthline/source", join(repoRoot, "packages/cli/src/bin.ts"), ...command, ...plugins.flatMap((p) => ["--plugin", p])],
        { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] }
      )
      let stdout = ""
      let stderr = ""
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
      child.on("close", (code) => resolve({ code, stdout, stderr }))
    })
  let entries = pluginPackages().map((p) => p.entry)
  for (;;) {
    const r = await run(entries)
    if (r.code === 0) return JSON.parse(r.stdout)
    // A package may be a library without a plugin default export.
    const notPlugin = entries.find((e) => r.stderr.includes(`cannot load plugin ${e}: its default export is not a plugin`))
    if (notPlugin === undefined) throw new Error(`synthline ${command.join(" ")} failed (${r.code}): ${r.stderr}`)
    entries = entries.filter((e) => e !== notPlugin)
  }
}

let stagesCache: Promise<ReadonlyArray<StageJson>> | undefined
/** `synthline stages --json` over every workspace plugin (run once). */
const stagesJson = (): Promise<ReadonlyArray<StageJson>> => {
  stagesCache ??= cliJson(["stages", "--json"]) as Promise<ReadonlyArray<StageJson>>
  return stagesCache
}

const isObj = (u: unknown): u is { readonly [key: string]: unknown } => typeof u === "object" && u !== null && !Array.isArray(u)

/** The `type` constants of a `source`/`sink` anyOf in the pipeline JSON Schema. */
const typesOf = (u: unknown): ReadonlyArray<string> =>
  isObj(u) && Array.isArray(u.anyOf)
    ? u.anyOf.flatMap((v: unknown) =>
        isObj(v) && isObj(v.properties) && isObj(v.properties.type) && typeof v.properties.type.const === "string" ? [v.properties.type.const] : []
      )
    : []

/** What Effect writes when a refinement has no description of its own ("a positive number"). */
const builtinDescription = /^an? (positive |non-negative |negative )?(number|integer|string|boolean)( between .*)?$|^a number between .*$/

/** `core/dedup` → `core-dedup`, as the reference generator writes heading anchors. */
const anchor = (id: string): string => id.replace(/[^a-zA-Z0-9_-]+/g, "-")

const launchArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

interface Visited {
  /** Element ids on the page (link anchors must point at one). */
  readonly ids: ReadonlySet<string>
  readonly errors: ReadonlyArray<string>
}

let server: Server
let origin: string
let browser: Browser
let page: Page
const visited = new Map<string, Visited>()
/** Internal links: target path + hash → the pages linking to it. */
const links = new Map<string, Set<string>>()

beforeAll(async () => {
  if (!existsSync(join(dist, "index.html"))) throw new Error(`${dist} is missing: run pnpm --filter docs build first (the test command does)`)
  ;({ server, origin } = await serve())
  const found = inject("chromium")
  browser = await chromium.launch({ executablePath: found.executablePath, env: { ...process.env, ...found.env }, args: launchArgs })
  page = await browser.newPage()
})

afterAll(async () => {
  await browser?.close()
  await new Promise((resolve) => server?.close(resolve))
})

/** Loads a page and records its console errors, element ids and internal links. */
const visit = async (path: string): Promise<Visited> => {
  const errors: Array<string> = []
  const onConsole = (m: { type(): string; text(): string }) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`)
  }
  const onPageError = (e: Error) => errors.push(`page error: ${e.message}`)
  const onResponse = (r: { status(): number; url(): string }) => {
    if (r.status() >= 400 && r.url().startsWith(origin)) errors.push(`HTTP ${r.status()} ${r.url()}`)
  }
  page.on("console", onConsole)
  page.on("pageerror", onPageError)
  page.on("response", onResponse)
  try {
    const response = await page.goto(origin + path, { waitUntil: "load" })
    if (response === null || response.status() !== 200) errors.push(`HTTP ${response?.status() ?? "no response"} for ${path}`)
    // Let the client app hydrate (a hydration mismatch is a console error).
    await page.waitForSelector("#app .VPContent, #app .VPHome, #app .Layout", { timeout: 10_000 }).catch(() => errors.push("app did not render"))
    const found = await page.evaluate(() => ({
      ids: Array.from(document.querySelectorAll("[id]"), (e) => e.id),
      hrefs: Array.from(document.querySelectorAll("a[href]"), (a) => (a as HTMLAnchorElement).href)
    }))
    for (const href of found.hrefs) {
      const url = new URL(href)
      if (url.origin !== origin) continue
      const key = url.pathname + url.hash
      if (!links.has(key)) links.set(key, new Set())
      links.get(key)!.add(path)
    }
    return { ids: new Set(found.ids), errors }
  } finally {
    page.off("console", onConsole)
    page.off("pageerror", onPageError)
    page.off("response", onResponse)
  }
}

const isPage = (pathname: string): boolean => pathname.endsWith("/") || pathname.endsWith(".html")

describe("docs site", () => {
  it("every page reachable from the home page loads without errors, and no internal link or anchor is broken", async () => {
    const queue = ["/"]
    while (queue.length > 0) {
      const path = queue.shift()!
      if (visited.has(path)) continue
      visited.set(path, await visit(path))
      for (const key of links.keys()) {
        const pathname = key.split("#")[0]!
        if (isPage(pathname) && !visited.has(pathname) && !queue.includes(pathname)) queue.push(pathname)
      }
    }
    const problems: Array<string> = []
    for (const [path, v] of visited) for (const e of v.errors) problems.push(`${path}: ${e}`)
    for (const [key, from] of links) {
      const [pathname, hash] = key.split("#") as [string, string | undefined]
      const target = isPage(pathname) ? visited.get(pathname) : undefined
      if (!isPage(pathname)) {
        const r = await fetch(origin + pathname)
        if (r.status !== 200) problems.push(`broken link ${key} (HTTP ${r.status}) on ${[...from].join(", ")}`)
      } else if (target === undefined || target.errors.some((e) => e.startsWith("HTTP"))) {
        problems.push(`broken link ${key} on ${[...from].join(", ")}`)
      } else if (hash !== undefined && hash !== "" && !target.ids.has(decodeURIComponent(hash))) {
        problems.push(`broken anchor ${key} on ${[...from].join(", ")}`)
      }
    }
    expect(problems).toEqual([])
    // The guide, the reference and the API reference were all reached.
    for (const p of ["/guide/getting-started.html", "/guide/plugins.html", "/guide/scale.html", "/reference/pipeline-file.html", "/reference/stages/core.html", "/api/"]) {
      expect(visited.has(p), p).toBe(true)
    }
    expect(visited.size).toBeGreaterThan(20)
    // Over 20 pages, one after another: room for a busy machine.
  }, 240_000)

  it("every stage of `synthline stages --json` has a reference entry, and every option a description", async () => {
    const stages = await stagesJson()
    expect(stages.map((s) => s.id)).toContain("core/dedup")
    // Every plugin package of the workspace was loaded (a package that failed to load would shrink the check).
    expect([...new Set(stages.map((s) => s.plugin))]).toEqual(expect.arrayContaining(["core", "llm", "moderation", "pii", "synth"]))
    const undocumented = stages.flatMap((s) =>
      s.options.filter((o) => o.description === undefined || o.description.trim() === "" || builtinDescription.test(o.description)).map((o) => `${s.id} ${o.name}`)
    )
    expect(undocumented).toEqual([])
    const missing: Array<string> = []
    for (const s of stages) {
      const path = `/reference/stages/${s.plugin}.html`
      const v = visited.get(path) ?? (await visit(path))
      if (!v.ids.has(anchor(s.id))) missing.push(`${s.id} (no #${anchor(s.id)} on ${path})`)
      if (!links.has(`${path}#${anchor(s.id)}`)) missing.push(`${s.id} (not linked from the reference overview)`)
    }
    expect(missing).toEqual([])
  })

  it("every source, sink, plugin section and model provider has a reference entry", async () => {
    const schema = await cliJson(["schema"])
    const props = isObj(schema) && isObj(schema.properties) ? schema.properties : {}
    const core = new Set(["name", "description", "seed", "plugins", "source", "stages", "sink", "branches"])
    const sections = Object.keys(props).filter((k) => !core.has(k))
    expect(sections).toEqual(expect.arrayContaining(["models", "cache"]))
    const sinks = typesOf(props.sink)
    expect(sinks).toEqual(expect.arrayContaining(["jsonl", "parquet", "sft"]))
    const providers = ["openai", ...pluginPackages().filter((p) => p.folder.startsWith("provider-")).map((p) => p.folder.slice("provider-".length))]
    const expected = [
      ...typesOf(props.source).map((t) => `/reference/sources-sinks.html#source-${anchor(t)}`),
      ...sinks.map((t) => `/reference/sources-sinks.html#sink-${anchor(t)}`),
      ...sections.map((k) => `/reference/pipeline-file.html#section-${anchor(k)}`),
      ...providers.map((p) => `/reference/pipeline-file.html#provider-${anchor(p)}`)
    ]
    const missing: Array<string> = []
    for (const target of expected) {
      const [path, id] = target.split("#") as [string, string]
      const v = visited.get(path) ?? (await visit(path))
      if (!v.ids.has(id)) missing.push(target)
    }
    expect(missing).toEqual([])
    // The jsonl sink documents release encryption.
    const page = await (await fetch(`${origin}/reference/sources-sinks.html`)).text()
    for (const option of ["encrypt", "source_key_from"]) expect(page).toContain(`<code>${option}</code>`)
  })

  it("the local search finds a stage by its id", async () => {
    const stages = await stagesJson()
    // A plugin's stage when there is one, else a core stage.
    const stage = stages.find((s) => s.plugin !== "core") ?? stages.find((s) => s.id === "core/dedup")!
    await page.goto(`${origin}/`, { waitUntil: "load" })
    await page.click("button.DocSearch-Button")
    await page.fill("#localsearch-input", stage.id)
    const result = page.locator(`.results a.result[href*="/reference/stages/${stage.plugin}.html#${anchor(stage.id)}"]`)
    await result.first().waitFor({ timeout: 10_000 })
    expect(await result.count()).toBeGreaterThan(0)
    await result.first().click()
    await page.waitForURL(`**/reference/stages/${stage.plugin}.html#${anchor(stage.id)}`)
    expect(await page.locator(`h2#${anchor(stage.id)}`).textContent()).toContain(stage.id)
  })
})
