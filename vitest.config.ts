import { defineConfig } from "vitest/config"

// One vitest run, one project per package. Sources are resolved through the
// "@synthline/source" export condition so tests never need a build first.
const project = (name: string, root = `packages/${name}`, env: Record<string, string> = {}, globalSetup: ReadonlyArray<string> = [], timeout = 60_000) => ({
  resolve: { conditions: ["@synthline/source"] },
  ssr: { resolve: { conditions: ["@synthline/source"], externalConditions: ["@synthline/source"] } },
  test: {
    name,
    root,
    include: ["test/**/*.test.ts"],
    // Temporary folders of tests (e.g. scaffolded plugins with their own tests) are not ours.
    exclude: ["**/node_modules/**", "**/.tmp/**"],
    // Child processes and tsx-loaded plugins resolve workspace packages to their sources too.
    poolOptions: { forks: { execArgv: ["--conditions=@synthline/source"] } },
    env: { NODE_OPTIONS: "--conditions=@synthline/source", ...env },
    testTimeout: timeout,
    hookTimeout: timeout,
    // System tools some tests drive for real (gpg, Chromium): found, or provided, before they start.
    globalSetup: globalSetup.map((f) => `${import.meta.dirname}/scripts/${f}`)
  }
})

// The CLI's tests start the CLI from its sources as child processes, several per test (each
// start compiles through tsx): 10-45 s per test on an idle 2-core machine, and past 60 s on a
// busy one, where CI has seen them time out with every assertion still holding.
const cliTimeout = 180_000

export default defineConfig({
  test: {
    // Two test files at a time even on 2 cores (vitest's default there is one): most files wait on
    // CLI child processes and local servers, not on the test worker's own CPU.
    maxWorkers: 2,
    poolOptions: { forks: { execArgv: ["--conditions=@synthline/source"] } },
    projects: [project("core", undefined, {}, ["gpg.setup.ts"]), project("cli", undefined, {}, ["gpg.setup.ts"], cliTimeout), project("bench", "bench", { SYNTHLINE_BENCH_CLI: "source" }), project("plugin-moderation"), project("llm"), project("plugin-synth"), project("plugin-pii"), project("plugin-dedup"), project("release", undefined, {}, ["gpg.setup.ts"]), project("sample"), project("report", undefined, {}, ["chromium.setup.ts"]), project("provider-llama-cpp"), project("examples", "examples"), project("docs", "apps/docs", {}, ["chromium.setup.ts"])]
  }
})
