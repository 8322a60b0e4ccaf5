import { describe, expect, it } from "vitest"
import { Redacted } from "effect"
import { body } from "../../src/Chat.js"
import { batchStatus, classifyMessage, fromMessage, headers, params, resultOutcome } from "../../src/internal/anthropic.js"

const same = (s: string) => s

describe("Anthropic Messages mapping", () => {
  it("maps a chat body to Messages params: system joined, stop as stop_sequences, max_tokens defaulted, no seed", () => {
    const chat = body(
      "claude-x",
      {
        messages: [
          { role: "system", content: "Be brief." },
          { role: "system", content: "Answer in Japanese." },
          { role: "user", content: "Hi" }
        ],
        temperature: 0.6,
        stop: ["\n\n"],
        seed: 7,
        response_format: { type: "json_object" }
      },
      { top_k: 40 }
    )
    expect(params(chat)).toEqual({
      top_k: 40,
      model: "claude-x",
      messages: [{ role: "user", content: "Hi" }],
      system: "Be brief.\n\nAnswer in Japanese.",
      temperature: 0.6,
      stop_sequences: ["\n\n"],
      max_tokens: 4096
    })
    expect(params(body("m", { messages: [{ role: "user", content: "Hi" }], max_tokens: 12 }, {}))).toEqual({
      model: "m",
      messages: [{ role: "user", content: "Hi" }],
      max_tokens: 12
    })
  })

  it("maps an answer back: text blocks joined, stop reasons as chat completions spell them, cache reads in the prompt tokens", () => {
    expect(
      fromMessage({
        content: [{ type: "text", text: "Hello" }, { type: "tool_use", id: "t" }, { type: "text", text: " there" }],
        stop_reason: "max_tokens",
        usage: { input_tokens: 10, cache_read_input_tokens: 90, cache_creation_input_tokens: 5, output_tokens: 7 }
      })
    ).toEqual({ content: "Hello there", finish_reason: "length", usage: { prompt_tokens: 105, completion_tokens: 7, cached_tokens: 90 } })
    expect(fromMessage({ content: [{ type: "text", text: "ok" }], stop_reason: "end_turn", usage: { input_tokens: 3, output_tokens: 1 } })).toEqual({
      content: "ok",
      finish_reason: "stop",
      usage: { prompt_tokens: 3, completion_tokens: 1 }
    })
    expect(fromMessage({ stop_reason: "end_turn" })).toMatch(/no content list/)
  })

  it("classifies HTTP answers: an error body's message, 529 worth a retry, garbage a bad response", () => {
    const overloaded = classifyMessage(529, JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }), "2")
    expect(overloaded).toMatchObject({ kind: "server_error", status: 529, detail: "Overloaded", retryAfterMs: 2000 })
    expect(classifyMessage(400, JSON.stringify({ type: "error", error: { type: "invalid_request_error", message: "max_tokens: too big" } }), undefined)).toMatchObject({
      kind: "bad_request",
      detail: "max_tokens: too big"
    })
    expect(classifyMessage(200, "<html>", undefined)).toMatchObject({ kind: "bad_response" })
  })

  it("reads results lines and batch states", () => {
    const errored = (type: string, message: string) => ({ custom_id: "a", result: { type: "errored", error: { type: "error", error: { type, message } } } })
    expect(resultOutcome(errored("invalid_request_error", "bad"), same)).toMatchObject({ kind: "bad_request", detail: "invalid_request_error: bad" })
    expect(resultOutcome(errored("overloaded_error", "busy"), same)).toMatchObject({ kind: "server_error" })
    expect(resultOutcome(errored("rate_limit_error", "slow down"), same)).toMatchObject({ kind: "rate_limited" })
    expect(resultOutcome({ custom_id: "a", result: { type: "expired" } }, same)).toMatchObject({ kind: "timeout" })
    expect(resultOutcome({ custom_id: "a", result: { type: "canceled" } }, same)).toMatchObject({ kind: "timeout" })
    expect(resultOutcome({ custom_id: "a" }, same)).toMatchObject({ kind: "bad_response" })
    expect(resultOutcome(errored("invalid_request_error", "key sk-secret-1 echoed"), (s) => s.replace("sk-secret-1", "<redacted>"))).toMatchObject({
      detail: "invalid_request_error: key <redacted> echoed"
    })
    expect(batchStatus({ processing_status: "in_progress" })).toBe("in_progress")
    expect(batchStatus({ processing_status: "canceling" })).toBe("cancelling")
    expect(batchStatus({ processing_status: "ended", request_counts: { succeeded: 3, expired: 0 } })).toBe("completed")
    expect(batchStatus({ processing_status: "ended", request_counts: { succeeded: 2, expired: 1 } })).toBe("expired")
  })

  it("sends the key as x-api-key with the API version, and no key header without a key", () => {
    expect(headers({ api_key: Redacted.make("sk-ant-1") })).toMatchObject({ "x-api-key": "sk-ant-1", "anthropic-version": "2023-06-01" })
    expect(headers({ api_key: undefined })).not.toHaveProperty("x-api-key")
  })
})
