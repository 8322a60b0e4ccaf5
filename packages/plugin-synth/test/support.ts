/** Test support: temp folders, a model client over a local test server, stage runs as promises. */
import { mkdirSync, mkdtempSync } from "node:fs"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer, Schema } from "effect"
import { ModelsSection } from "@synthline/llm/Config"
import { layerWith, type Models } from "@synthline/llm/Models"
import * as TestServer from "@synthline/llm/TestServer"

/** A temporary folder under test/.tmp. */
export const tempDir = (name: string): string => {
  mkdirSync(join(import.meta.dirname, ".tmp"), { recursive: true })
  return mkdtempSync(join(import.meta.dirname, ".tmp", `${name}-`))
}

/** Runs `f` with a test server that is closed afterwards. */
export const withServer = async <A>(options: TestServer.TestServerOptions, f: (s: TestServer.TestServer) => Promise<A>): Promise<A> => {
  const server = await TestServer.start(options)
  try {
    return await f(server)
  } finally {
    await server.close()
  }
}

/** A models layer with `m` (and `judge`) on the server, no cache. */
export const models = (server: TestServer.TestServer): Layer.Layer<Models> =>
  layerWith({
    models: Schema.decodeUnknownSync(ModelsSection)({
      m: { model: "test/gen", endpoints: [server.baseUrl], retry_base: "5ms", max_retries: 1 },
      judge: { model: "test/judge", endpoints: [server.baseUrl], retry_base: "5ms", max_retries: 1 }
    }),
    cache: { path: "unused", mode: "off" },
    baseDir: tempDir("models"),
    env: {}
  })

/** An empty models section (for a stage that requires `Models` but, as configured, calls none: DeepL). */
export const noModels = (): Layer.Layer<Models> =>
  layerWith({
  models: Schema.decodeUnknownSync(ModelsSection)({}),
  cache: { path: "unused", mode: "off" },
  baseDir: tempDir("models"),
  env: {}
})

/** Runs an effect that needs models and the Node platform. */
export const run = <A, E>(server: TestServer.TestServer, effect: Effect.Effect<A, E, Models | NodeContext.NodeContext>): Promise<A> =>
  Effect.runPromise(effect.pipe(Effect.provide(Layer.merge(models(server), NodeContext.layer))))
