/** vitest globalSetup of the docs project: finds or provides headless Chromium (see test-tools.ts) and hands it to the tests. */
import type {} from "vitest"
import type { TestProject } from "vitest/node"
import { type Browser, chromium } from "./test-tools.js"

declare module "vitest" {
  interface ProvidedContext {
    chromium: Browser
  }
}

export default function setup(project: TestProject): void {
  project.provide("chromium", chromium())
}
