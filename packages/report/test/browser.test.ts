/**
 * The report page in headless Chromium (the one the suite's globalSetup finds or provides,
 * scripts/chromium.setup.ts), served on 127.0.0.1: the page loads without console errors or
 * requests, and every chart is an SVG of non-zero size with visible marks.
 */
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { readFileSync } from "node:fs"
import { NodeContext } from "@effect/platform-node"
import { Effect } from "effect"
import { type Browser, chromium } from "playwright-core"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import * as Report from "../src/Report.js"
import { runFolder } from "./support.js"

declare module "vitest" {
  interface ProvidedContext {
    chromium: { readonly executablePath: string; readonly env: { readonly [name: string]: string }; readonly origin: string }
  }
}

let server: Server
let origin: string
let browser: Browser
const requests: Array<string> = []

beforeAll(async () => {
  const dir = runFolder("browser")
  const done = await Effect.runPromise(Report.write(dir).pipe(Effect.provide(NodeContext.layer)))
  const page = readFileSync(done.html)
  server = createServer((req, res) => {
    requests.push(req.url ?? "")
    if (req.url === "/") res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page)
    else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const found = inject("chromium")
  browser = await chromium.launch({
    executablePath: found.executablePath,
    env: { ...process.env, ...found.env },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
  })
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await new Promise((resolve) => server?.close(resolve))
})

describe("the report page in Chromium", () => {
  it("renders every chart: an SVG of non-zero size with visible marks, no console error, no other request", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const errors: Array<string> = []
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text())
    })
    page.on("pageerror", (e) => errors.push(e.message))
    await page.goto(`${origin}/`)
    const charts = await page.$$eval("section", (sections) =>
      sections.map((s) => {
        const svg = s.querySelector("figure.chart svg")
        const box = svg?.getBoundingClientRect()
        const marks = [...(svg?.querySelectorAll("g.role-mark path, g.role-mark rect") ?? [])].filter((m) => {
          const r = m.getBoundingClientRect()
          return r.width > 0 && r.height > 0
        })
        return { id: s.id, width: box?.width ?? 0, height: box?.height ?? 0, marks: marks.length }
      })
    )
    expect(charts.map((c) => c.id)).toEqual(["preference-scores", "token-lengths", "flags", "judge-agreement", "drops"])
    for (const c of charts) {
      expect(c.width, c.id).toBeGreaterThan(100)
      expect(c.height, c.id).toBeGreaterThan(50)
      expect(c.marks, c.id).toBeGreaterThan(0)
    }
    await page.screenshot({ path: `${import.meta.dirname}/.tmp/report.png`, fullPage: true })
    expect(errors).toEqual([])
    expect(requests).toEqual(["/"])
    await page.close()
  })
})
