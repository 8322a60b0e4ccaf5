/**
 * The workspace as the docs see it: the repository root, every publishable package under
 * `packages/`, and the plugin packages (`packages/plugin-*`, `packages/provider-*`,
 * `packages/llm`) with the source entry their default-exported plugin loads from. Discovered at build time, so packages added
 * later appear in the reference without touching the docs.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join, resolve } from "node:path"

/** The repository root. */
export const repoRoot: string = resolve(import.meta.dirname, "../../..")

/** A package of the workspace. */
export interface WorkspacePackage {
  /** npm name, e.g. `@synthline/plugin-moderation`. */
  readonly name: string
  /** Folder name under `packages/`. */
  readonly folder: string
  /** Absolute folder. */
  readonly dir: string
  /** Absolute path of the source entry (`exports["."]["@synthline/source"]`). */
  readonly entry: string
  readonly private: boolean
  readonly manifest: { readonly [key: string]: unknown }
}

const sourceEntry = (dir: string, manifest: { readonly [key: string]: unknown }): string => {
  const exp = manifest.exports
  if (typeof exp === "object" && exp !== null && "." in exp) {
    const dot: unknown = (exp as { ".": unknown })["."]
    if (typeof dot === "object" && dot !== null && "@synthline/source" in dot) {
      const src: unknown = (dot as { "@synthline/source": unknown })["@synthline/source"]
      if (typeof src === "string") return join(dir, src)
    }
  }
  return join(dir, "src/index.ts")
}

/** Every package under `packages/` (sorted by folder). */
export const packages = (): ReadonlyArray<WorkspacePackage> =>
  readdirSync(join(repoRoot, "packages"))
    .sort()
    .map((folder) => join(repoRoot, "packages", folder))
    .filter((dir) => existsSync(join(dir, "package.json")))
    .map((dir) => {
      const manifest: { readonly [key: string]: unknown } = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))
      return {
        name: String(manifest.name),
        folder: dir.split("/").pop()!,
        dir,
        entry: sourceEntry(dir, manifest),
        private: manifest.private === true,
        manifest
      }
    })

/** The packages whose default export may be a plugin: `packages/plugin-*`, `packages/provider-*`, `packages/llm` and `packages/release`. */
export const pluginPackages = (): ReadonlyArray<WorkspacePackage> =>
  packages().filter((p) => p.folder.startsWith("plugin-") || p.folder.startsWith("provider-") || p.folder === "llm" || p.folder === "release")

/** The packages that would be published (not `private`). */
export const publishable = (): ReadonlyArray<WorkspacePackage> => packages().filter((p) => !p.private)
