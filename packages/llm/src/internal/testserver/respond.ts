/**
 * The test server's HTTP plumbing: reading a request body, parsing it leniently, writing a JSON
 * answer, and failing a request with a {@link Fault} (status, hang, drop, garbage).
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { isRecord as isObject } from "@synthline/core/Row"
import type { Counts, Fault } from "../../TestServer.js"

/** Whether a value `chat` or `moderate` returned is a {@link Fault}. */
export const isFault = (u: unknown): u is Fault => isObject(u) && typeof u.fault === "string"

/** The whole body of a request as UTF-8; rejects when the client goes away before it ends. */
export const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const parts: Array<Buffer> = []
    req.on("data", (b: Buffer) => parts.push(b))
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")))
    req.on("error", reject)
    req.on("close", () => {
      if (!req.complete) reject(new Error("the client went away before the body ended"))
    })
  })

/** The JSON in a text, or the text itself when it is not JSON. */
export const safeParse = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** Answers with this status and body (a string as is, anything else as JSON), and extra headers. */
export const send = (res: ServerResponse, status: number, body: unknown, headers: { [k: string]: string } = {}): void => {
  const text = typeof body === "string" ? body : JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers })
  res.end(text)
}

/** Fails a request with a fault, counting it in `counts.faults`. */
export const applyFault = (counts: Counts, res: ServerResponse, f: Fault): void => {
  counts.faults++
  switch (f.fault) {
    case "status":
      send(
        res,
        f.status,
        f.body ?? JSON.stringify({ error: { message: `test server: status ${f.status}`, type: "test" } }),
        f.retryAfter !== undefined ? { "retry-after": f.retryAfter } : {}
      )
      return
    case "hang":
      return
    case "drop":
      res.socket?.destroy()
      return
    case "garbage":
      send(res, 200, f.body ?? "<html>502 Bad Gateway</html>")
      return
  }
}
