import { readGgufFileInfo } from "node-llama-cpp"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import * as TinyModel from "./support/TinyModel.js"
import { tempDir, writeTinyModel } from "./support.js"

describe("the tiny GGUF model", () => {
  it("is a llama model with a byte vocabulary and a chat template, the same bytes for the same seed", async () => {
    const dir = tempDir("tiny")
    const file = writeTinyModel(dir, 5)
    const info = await readGgufFileInfo(file)
    expect(info.version).toBe(3)
    expect(info.metadata.general.architecture).toBe("llama")
    expect(info.metadata.tokenizer.chat_template).toBe(TinyModel.chatTemplate)
    expect(info.metadata.tokenizer.ggml.tokens).toHaveLength(5 + 1 + 256)
    expect(info.tensorInfo?.map((t) => t.name)).toContain("blk.1.ffn_down.weight")
    expect(TinyModel.make({ seed: 5 })).toEqual(TinyModel.make({ seed: 5 }))
    expect(TinyModel.make({ seed: 6 })).not.toEqual(TinyModel.make({ seed: 5 }))
    expect(join(dir, "tiny-5.gguf")).toBe(file)
  })
})
