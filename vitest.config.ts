import { defineConfig } from "vitest/config"

// One vitest run, one project per package. Sources are resolved through the
// "@synthline/source" export condition so tests never need a build first.
const project = (name: string) => ({
  resolve: { conditions: ["@synthline/source"] },
  test: {
    name,
    root: `packages/${name}`,
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})

export default defineConfig({
  test: {
    projects: [project("core"), project("cli")]
  }
})
