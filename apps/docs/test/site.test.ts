/**
 * The built docs site (`pnpm --filter docs build`, run by the test command before vitest),
 * served on 127.0.0.1 and driven by headless Chromium (the system's, or the one the
 * @sparticuz/chromium package ships: scripts/test-tools.ts, run as this project's globalSetup,
 * finds or provides it) at 1280 px: every page loads without console errors and without a
 * request off the site (no network fonts or assets), no internal link or anchor is broken, no
 * table is wider than the text column and every description column is shown whole, generated
 * text shows as written (`::1, ::)` in the reference and API pages, no emoji in their place),
 * the home page shows its pictures, feature cards and a pipeline file, the local search finds a
 * stage by its id, every stage `synthline stages --json` lists for the workspace's plugins has a
 * reference entry (and every option a description), and every source, sink, plugin section
 * (`models`, `cache`) and model provider `synthline schema` knows has one too.
 *
 * Time: one browser for the whole file; pages are loaded a few at a time, each within its own
 * budget (a page that takes longer is reported by name), and the file's time limits follow from
 * the number of pages built; the two CLI calls start with the browser and run meanwhile.
 */
import { spawn } from "node:child_process"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { extname, join, normalize } from "node:path"
import { type Browser, type BrowserContext, chromium } from "playwright-core"
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

/** Pages loaded at the same time (one browser, one tab each). */
const concurrency = 3
/** What one page may take to load and hydrate, on a busy machine. */
const pageBudget = 30_000
/** What one `synthline` call from source may take, on a busy machine. */
const cliBudget = 120_000
/** The width the pages are checked at. */
const viewport = { width: 1280, height: 800 }

/** The built pages (for the time limits: a budget per page, `concurrency` at a time). */
const builtPages = (dir: string): number =>
  existsSync(dir)
    ? readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".html")).length
    : 0
const crawlBudget = 60_000 + Math.ceil(Math.max(builtPages(dist), 30) / concurrency) * pageBudget

interface Visited {
  /** Element ids on the page (link anchors must point at one). */
  readonly ids: ReadonlySet<string>
  readonly errors: ReadonlyArray<string>
  /** Tables wider than the text column, or with a description column cut off. */
  readonly tables: ReadonlyArray<string>
  /** Emoji in the text of a generated page (reference, API), with the text around them. */
  readonly emoji: ReadonlyArray<string>
  /** The page's text (`.vp-doc`, or the whole page when there is none). */
  readonly text: string
}

let server: Server
let origin: string
let browser: Browser
let context: BrowserContext
let stagesCall: Promise<ReadonlyArray<StageJson>>
let schemaCall: Promise<unknown>
const visited = new Map<string, Visited>()
/** Internal links: target path + hash → the pages linking to it. */
const links = new Map<string, Set<string>>()

beforeAll(async () => {
  if (!existsSync(join(dist, "index.html"))) throw new Error(`${dist} is missing: run pnpm --filter docs build first (the test command does)`)
  ;({ server, origin } = await serve())
  // The CLI runs from source (seconds on a busy machine): start both calls now, the tests await them.
  stagesCall = cliJson(["stages", "--json"]) as Promise<ReadonlyArray<StageJson>>
  schemaCall = cliJson(["schema"])
  // A failed call is reported by the test that needs it.
  stagesCall.catch(() => {})
  schemaCall.catch(() => {})
  const found = inject("chromium")
  browser = await chromium.launch({ executablePath: found.executablePath, env: { ...process.env, ...found.env }, args: launchArgs, timeout: cliBudget })
  context = await browser.newContext({ viewport })
}, cliBudget + 10_000)

afterAll(async () => {
  await browser?.close()
  await new Promise((resolve) => server?.close(resolve))
})

/** Generated pages, whose text comes from Schemas and doc comments. */
const isGenerated = (path: string): boolean => path.startsWith("/reference/") || path.startsWith("/api/")

/** An emoji as markdown-it-emoji writes one (😃, or a symbol with the emoji variation selector: ❤️). */
const emoji = /\p{Emoji_Presentation}|\p{Extended_Pictographic}\uFE0F/gu

/**
 * Loads a page in a tab of its own, within `pageBudget`, and records its console errors, requests
 * that fail or leave the site, element ids, internal links, tables that do not fit, emoji in
 * generated text, and its text.
 */
const visit = async (path: string): Promise<Visited> => {
  const errors: Array<string> = []
  const page = await context.newPage()
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`)
  })
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`))
  page.on("response", (r) => {
    if (r.status() >= 400 && r.url().startsWith(origin)) errors.push(`HTTP ${r.status()} ${r.url()}`)
  })
  page.on("request", (r) => {
    const url = r.url()
    if (!url.startsWith(`${origin}/`) && !url.startsWith("data:") && !url.startsWith("blob:")) errors.push(`request off the site: ${url}`)
  })
  const started = Date.now()
  const left = () => Math.max(1, pageBudget - (Date.now() - started))
  try {
    const response = await page.goto(origin + path, { waitUntil: "load", timeout: pageBudget })
    if (response === null || response.status() !== 200) errors.push(`HTTP ${response?.status() ?? "no response"} for ${path}`)
    // Let the client app hydrate (a hydration mismatch is a console error).
    await page.waitForSelector("#app .VPContent, #app .VPHome, #app .Layout", { timeout: left() })
    const found = await page.evaluate(
      ({ generated, emojiSource }) => {
        const doc = document.querySelector(".vp-doc")
        const text = (doc ?? document.body).textContent ?? ""
        const tables = Array.from(document.querySelectorAll(".vp-doc table"), (t, i) => {
          const column = (t.parentElement ?? t).getBoundingClientRect()
          const box = t.getBoundingClientRect()
          const headers = Array.from(t.querySelectorAll("thead th"), (th) => (th.textContent ?? "").trim())
          const name = `table ${i + 1} (${headers.join(" | ")})`
          const problems: Array<string> = []
          if (box.right > column.right + 1 || t.scrollWidth > t.clientWidth + 1) {
            problems.push(`${name} is ${Math.max(Math.round(box.width), t.scrollWidth)} px wide in a ${Math.round(column.width)} px column`)
          }
          const d = headers.indexOf("description")
          if (d >= 0) {
            const th = t.querySelectorAll("thead th")[d]!.getBoundingClientRect()
            if (th.right > column.right + 1 || th.width < 120) problems.push(`${name}: the description column is ${Math.round(th.width)} px wide, ending at ${Math.round(th.right)} of ${Math.round(column.right)} px`)
            for (const row of Array.from(t.querySelectorAll("tbody tr"))) {
              const td = row.children[d]
              if (td !== undefined && (td.scrollWidth > td.clientWidth + 1 || td.getBoundingClientRect().right > column.right + 1)) {
                problems.push(`${name}: the description of ${(row.children[0]?.textContent ?? "").trim()} is cut off`)
              }
            }
          }
          return problems
        }).flat()
        const emoji = generated
          ? Array.from(text.matchAll(new RegExp(emojiSource, "gu")), (m) => JSON.stringify(text.slice(Math.max(0, m.index - 30), m.index + m[0].length + 10)))
          : []
        return {
          ids: Array.from(document.querySelectorAll("[id]"), (e) => e.id),
          hrefs: Array.from(document.querySelectorAll("a[href]"), (a) => (a as HTMLAnchorElement).href),
          tables,
          emoji,
          text
        }
      },
      { generated: isGenerated(path), emojiSource: emoji.source }
    )
    for (const href of found.hrefs) {
      const url = new URL(href)
      if (url.origin !== origin) continue
      const key = url.pathname + url.hash
      if (!links.has(key)) links.set(key, new Set())
      links.get(key)!.add(path)
    }
    return { ids: new Set(found.ids), errors, tables: found.tables, emoji: found.emoji, text: found.text }
  } catch (e) {
    const timedOut = e instanceof Error && e.name === "TimeoutError"
    errors.push(timedOut ? `did not load and render within ${pageBudget / 1000} s` : `could not be checked: ${e instanceof Error ? e.message : String(e)}`)
    return { ids: new Set(), errors, tables: [], emoji: [], text: "" }
  } finally {
    await page.close()
  }
}

/** The visit of `path`, from the crawl when it reached the page. */
const visitOnce = async (path: string): Promise<Visited> => {
  const seen = visited.get(path)
  if (seen !== undefined) return seen
  const v = await visit(path)
  visited.set(path, v)
  return v
}

const isPage = (pathname: string): boolean => pathname.endsWith("/") || pathname.endsWith(".html")

/** Visits every page reachable from `start`, `concurrency` at a time. */
const crawl = (start: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const queue = [start]
    const queued = new Set(queue)
    let active = 0
    const next = (): void => {
      if (queue.length === 0 && active === 0) {
        resolve()
        return
      }
      while (active < concurrency && queue.length > 0) {
        const path = queue.shift()!
        active++
        visit(path)
          .then((v) => {
            visited.set(path, v)
            for (const key of links.keys()) {
              const pathname = key.split("#")[0]!
              if (isPage(pathname) && !queued.has(pathname)) {
                queued.add(pathname)
                queue.push(pathname)
              }
            }
          })
          .catch(reject)
          .finally(() => {
            active--
            next()
          })
      }
    }
    next()
  })

describe("docs site", () => {
  it("every page reachable from the home page loads without errors or requests off the site, and no internal link or anchor is broken", async () => {
    await crawl("/")
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
    for (const p of [
      "/guide/getting-started.html",
      "/guide/editor.html",
      "/guide/plugins.html",
      "/guide/scale.html",
      "/reference/pipeline-file.html",
      "/reference/stages/core.html",
      "/reference/stages/pii.html",
      "/api/"
    ]) {
      expect(visited.has(p), p).toBe(true)
    }
    expect(visited.size).toBeGreaterThan(20)
  }, crawlBudget)

  it("at 1280 px no table is wider than the text column, and every description column shows whole", async () => {
    const pii = await visitOnce("/reference/stages/pii.html")
    // The pii option tables (many enum values next to long descriptions) are among those checked.
    expect(pii.text).toContain("keep_loopback_ips")
    const problems = [...visited].flatMap(([path, v]) => v.tables.map((t) => `${path}: ${t}`))
    expect(problems).toEqual([])
  })

  it("generated text shows as written: `::1, ::)` in the reference and API pages, no emoji in any generated page", async () => {
    const loopback = "(127/8, 0.0.0.0, ::1, ::)"
    expect((await visitOnce("/reference/stages/pii.html")).text).toContain(loopback)
    const api = [...visited].filter(([path, v]) => path.startsWith("/api/") && v.text.includes("loopback"))
    expect(api.length, "an API page documents keepLoopbackIps").toBeGreaterThan(0)
    for (const [path, v] of api) expect(v.text, path).toContain(loopback)
    const generated = [...visited].filter(([path]) => isGenerated(path))
    expect(generated.length).toBeGreaterThan(10)
    expect(generated.flatMap(([path, v]) => v.emoji.map((e) => `${path}: ${e}`))).toEqual([])
  })

  it("the home page shows the pipeline picture, feature cards, a pipeline file and the recipe in one picture", async () => {
    const page = await context.newPage()
    try {
      await page.goto(`${origin}/`, { waitUntil: "load", timeout: pageBudget })
      await page.waitForSelector(".VPHome", { timeout: pageBudget })
      const home = await page.evaluate(() => {
        const shown = (img: HTMLImageElement | null) =>
          img === null ? null : { src: img.getAttribute("src"), alt: img.alt, loaded: img.complete && img.naturalWidth > 0, width: img.getBoundingClientRect().width }
        const hero = document.querySelector<HTMLImageElement>(".VPHero .image img")
        const heroText = document.querySelector(".VPHero .main")?.getBoundingClientRect()
        return {
          hero: shown(hero),
          heroBesideText: hero !== null && heroText !== undefined && hero.getBoundingClientRect().left >= heroText.right - 1,
          features: Array.from(document.querySelectorAll(".VPFeatures .VPFeature"), (f) => ({
            title: (f.querySelector(".title")?.textContent ?? "").trim(),
            details: (f.querySelector(".details")?.textContent ?? "").trim(),
            // An icon from public/icons, loaded (no emoji: a machine without an emoji font shows nothing).
            icon: shown(f.querySelector<HTMLImageElement>("img"))?.loaded === true
          })),
          yaml: Array.from(document.querySelectorAll(".vp-doc div.language-yaml"), (d) => d.textContent ?? ""),
          recipe: shown(document.querySelector<HTMLImageElement>('.vp-doc img[src$="recipe.svg"]'))
        }
      })
      expect(home.hero).toMatchObject({ loaded: true })
      expect(home.hero!.alt).not.toBe("")
      expect(home.hero!.width).toBeGreaterThan(200)
      // At 1280 px the picture fills the hero's right half, beside the text.
      expect(home.heroBesideText).toBe(true)
      expect(home.features.length).toBeGreaterThanOrEqual(6)
      for (const f of home.features) expect(f.title !== "" && f.details !== "" && f.icon, JSON.stringify(f)).toBe(true)
      // A pipeline file as the examples hold it (included from examples/, not copied).
      const quickstart = readFileSync(join(repoRoot, "examples/quickstart.pipeline.yaml"), "utf8")
      const stagesOfQuickstart = quickstart.match(/- use: \S+/g) ?? []
      expect(stagesOfQuickstart.length).toBeGreaterThan(2)
      expect(home.yaml.some((y) => stagesOfQuickstart.every((u) => y.includes(u)))).toBe(true)
      expect(home.recipe).toMatchObject({ loaded: true })
      expect(home.recipe!.alt).toContain("moderation")
      expect(home.recipe!.width).toBeGreaterThan(500)
      // The recipe picture names the recipe's steps in order.
      const svg = await (await fetch(`${origin}/recipe.svg`)).text()
      const labels = Array.from(svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g), (m) => m[1]!)
      const steps = ["select", "moderation", "pii", "translate", "generate", "judge", "export"]
      const at = steps.map((s) => labels.findIndex((l) => l.toLowerCase().includes(s)))
      expect(at.every((i) => i >= 0), JSON.stringify(labels)).toBe(true)
      expect([...at].sort((a, b) => a - b)).toEqual(at)
    } finally {
      await page.close()
    }
  }, 2 * pageBudget + 10_000)

  it("every stage of `synthline stages --json` has a reference entry, and every option a description", async () => {
    const stages = await stagesCall
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
      const v = await visitOnce(path)
      if (!v.ids.has(anchor(s.id))) missing.push(`${s.id} (no #${anchor(s.id)} on ${path})`)
      if (!links.has(`${path}#${anchor(s.id)}`)) missing.push(`${s.id} (not linked from the reference overview)`)
    }
    expect(missing).toEqual([])
  }, cliBudget + 4 * pageBudget)

  it("every source, sink, plugin section and model provider has a reference entry", async () => {
    const schema = await schemaCall
    const props = isObj(schema) && isObj(schema.properties) ? schema.properties : {}
    // Core's own keys (the top-level table documents them); every other key is a plugin's section.
    const core = new Set(["name", "description", "seed", "plugins", "source", "stages", "sink", "branches", "outputs"])
    const sections = Object.keys(props).filter((k) => !core.has(k))
    const topLevel = await (await fetch(`${origin}/reference/pipeline-file.html`)).text()
    for (const k of Object.keys(props).filter((x) => core.has(x))) expect(topLevel, k).toContain(`<code>${k}</code>`)
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
      const v = await visitOnce(path)
      if (!v.ids.has(id)) missing.push(target)
    }
    expect(missing).toEqual([])
    // The jsonl sink documents release encryption.
    const page = await (await fetch(`${origin}/reference/sources-sinks.html`)).text()
    for (const option of ["encrypt", "source_key_from"]) expect(page).toContain(`<code>${option}</code>`)
  }, cliBudget + 4 * pageBudget)

  it("the local search finds a stage by its id", async () => {
    const stages = await stagesCall
    // A plugin's stage when there is one, else a core stage.
    const stage = stages.find((s) => s.plugin !== "core") ?? stages.find((s) => s.id === "core/dedup")!
    const page = await context.newPage()
    try {
      await page.goto(`${origin}/`, { waitUntil: "load", timeout: pageBudget })
      await page.click("button.DocSearch-Button", { timeout: pageBudget })
      await page.fill("#localsearch-input", stage.id, { timeout: pageBudget })
      const result = page.locator(`.results a.result[href*="/reference/stages/${stage.plugin}.html#${anchor(stage.id)}"]`)
      await result.first().waitFor({ timeout: pageBudget })
      expect(await result.count()).toBeGreaterThan(0)
      await result.first().click()
      await page.waitForURL(`**/reference/stages/${stage.plugin}.html#${anchor(stage.id)}`, { timeout: pageBudget })
      expect(await page.locator(`h2#${anchor(stage.id)}`).textContent()).toContain(stage.id)
    } finally {
      await page.close()
    }
  }, cliBudget + 3 * pageBudget)
})
