/** `synthline estimate`'s text: a total that leaves an unpriced model out names it. */
import { describe, expect, it } from "vitest"
import { render } from "../src/Estimate.js"
import type { Projection } from "../src/Projection.js"

const projection = (models: Projection["models"], usd: number | undefined): Projection => ({
  sample: { rowsTotal: 1000, basis: "planned", units: 2, unitsSampled: 2, rowsAsked: 100, rows_read: 100, rejected: 0, scale: 10 },
  rows: { read: 1000, written: 980, rejected: 0, branches: {} },
  stages: [{ id: "synth/translate", rows_in: 1000, rows_out: 980 }],
  models,
  usd
})

describe("estimate's text", () => {
  it("names the models a total leaves out for want of a price, and says nothing when all have one", () => {
    const gemma = { name: "gemma", requests: 5880, prompt_tokens: 1_200_000, completion_tokens: 3_000_000, usd: 12.5 }
    const deepl = { name: "deepl", requests: 20, prompt_tokens: 0, completion_tokens: 0, characters: 448_000 }
    const mixed = render(projection([gemma, deepl], 12.5))
    expect(mixed).toContain("total    $12.50")
    expect(mixed).toContain("deepl: 20 requests, 448,000 characters, no price")
    expect(mixed).toContain("not counted: deepl (no price")
    const priced = render(projection([gemma, { ...deepl, usd: 8.96 }], 21.46))
    expect(priced).toContain("total    $21.46")
    expect(priced).not.toContain("not counted")
    expect(render(projection([deepl], undefined))).toContain("total    no model has a price")
  })
})
