/**
 * The HTTP helpers the model client uses, for plugins that call other HTTP APIs (DeepL, say):
 * a pooled undici POST with a time limit as an interruptible Effect, and `Retry-After` parsing.
 */
export { type HttpAnswer, type HttpTarget, post, retryAfterMs, target, type WireFailure } from "./internal/http.js"
