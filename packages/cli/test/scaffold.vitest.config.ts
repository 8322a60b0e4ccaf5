import { defineConfig } from "vitest/config"

// Runs a scaffolded plugin's own tests inside the workspace, with @synthline/core resolved to
// its sources (as the workspace's vitest config does), so no build is needed first.
export default defineConfig({
  resolve: { conditions: ["@synthline/source"] },
  ssr: { resolve: { conditions: ["@synthline/source"], externalConditions: ["@synthline/source"] } },
  test: { include: ["test/**/*.test.ts"] }
})
