/**
 * `pnpm --filter @synthline/provider-llama-cpp make-tiny-model OUT.gguf [--seed N]`: writes
 * the tiny random llama model the tests use, so anyone can try the provider with no download.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { make } from "../test/support/TinyModel.js"

const args = process.argv.slice(2)
const seedAt = args.indexOf("--seed")
const seed = seedAt >= 0 ? Number(args[seedAt + 1]) : 42
const out = args.find((a, i) => !a.startsWith("--") && (seedAt < 0 || i !== seedAt + 1))
if (out === undefined || !Number.isInteger(seed)) {
  process.stderr.write("usage: make-tiny-model OUT.gguf [--seed N]\n")
  process.exit(2)
}
// pnpm --filter runs in the package folder; INIT_CWD is where the command was typed.
const file = resolve(process.env.INIT_CWD ?? process.cwd(), out)
mkdirSync(dirname(file), { recursive: true })
const bytes = make({ seed })
writeFileSync(file, bytes)
process.stdout.write(`wrote ${file} (${bytes.length} bytes, tiny llama model, seed ${seed})\n`)
