/**
 * The system tools some tests drive for real, found or provided before the tests start (vitest
 * `globalSetup`, see vitest.config.ts), so the README's test command works on a machine with only
 * Node 20 and npm, or fails at once with a message saying what is missing and how to get it.
 *
 * - Chromium (the docs site's browser test): `/usr/bin/chromium` (or `SYNTHLINE_CHROMIUM`) when
 *   present; otherwise the headless Chromium that the `@sparticuz/chromium` npm package ships
 *   inside its tarball (a devDependency of apps/docs, so `pnpm install` already fetched it from
 *   the npm registry), unpacked once under node_modules/.cache; otherwise, as root on Debian,
 *   Debian's `chromium` package.
 * - gpg (the release encryption tests open encrypted output with the real GnuPG): `gpg` on PATH;
 *   otherwise, as root on Debian, Debian's `gnupg` package. No npm package ships gpg.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { delimiter, dirname, join } from "node:path"

const repoRoot = join(import.meta.dirname, "..")

/** How to start the browser: the executable, and the environment it needs beside the test's. */
export interface Browser {
  readonly executablePath: string
  readonly env: { readonly [name: string]: string }
  /** Where it came from, for messages. */
  readonly origin: string
}

const say = (line: string): void => void process.stderr.write(`synthline tests: ${line}\n`)

/** Whether `file` runs and exits 0 with `args` (in `env` added to ours). */
const runs = (file: string, args: ReadonlyArray<string>, env: { readonly [name: string]: string } = {}): boolean =>
  spawnSync(file, args, { env: { ...process.env, ...env }, stdio: "ignore", timeout: 60_000 }).status === 0

/** `name` on PATH, or undefined. */
const onPath = (name: string): string | undefined =>
  (process.env.PATH ?? "")
    .split(delimiter)
    .filter((d) => d !== "")
    .map((d) => join(d, name))
    .find((f) => runs(f, ["--version"]))

const isRoot = (): boolean => process.getuid?.() === 0

const aptTried = new Set<string>()
/** What became of installing a Debian package, for the final message. */
const aptOutcome = (pkg: string): string =>
  aptTried.has(pkg) ? `installing Debian's ${pkg} package did not provide it` : `Debian's ${pkg} package can only be installed by the test set-up as root on Debian`

/** Installs Debian packages when running as root where apt-get is; false when it could not, or did not try. */
const aptInstall = (packages: ReadonlyArray<string>, why: string): boolean => {
  if (!isRoot() || !runs("apt-get", ["--version"])) return false
  aptTried.add(packages.join(" "))
  say(`${why}: installing Debian's ${packages.join(", ")} (running as root)`)
  const apt = (args: ReadonlyArray<string>) =>
    spawnSync("apt-get", ["-o", "DPkg::Lock::Timeout=600", ...args], {
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      stdio: ["ignore", "ignore", "inherit"]
    }).status === 0
  return apt(["update"]) && apt(["install", "-y", "--no-install-recommends", ...packages])
}

/** The Chromium of the `@sparticuz/chromium` package, unpacked once into node_modules/.cache; undefined when it is not installed or does not run here. */
const packagedChromium = (): Browser | undefined => {
  let entry: string
  let version: string
  try {
    const require = createRequire(join(repoRoot, "apps/docs/package.json"))
    entry = require.resolve("@sparticuz/chromium")
    const pkg = join(dirname(entry), "../../package.json")
    version = (require(pkg) as { version: string }).version
  } catch {
    say("@sparticuz/chromium is not installed (run pnpm install)")
    return undefined
  }
  const dir = join(repoRoot, "node_modules/.cache/synthline-chromium", version)
  const browser = (): Browser => ({
    executablePath: join(dir, "chromium"),
    // Its own NSS/NSPR libraries and fontconfig, so it needs nothing from the system but libc.
    env: { LD_LIBRARY_PATH: join(dir, "al2023/lib"), FONTCONFIG_PATH: join(dir, "fonts") },
    origin: `@sparticuz/chromium ${version}`
  })
  if (!existsSync(join(dir, "chromium"))) {
    say(`unpacking the Chromium of @sparticuz/chromium ${version} into ${dir}`)
    mkdirSync(dirname(dir), { recursive: true })
    const staging = mkdtempSync(`${dir}.partial-`)
    // The package unpacks into the temporary folder; the AWS variable makes it unpack its
    // libraries too (it does so where the system lacks them, which it detects only on AWS).
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", "const { default: c } = await import(process.argv[1]); await c.executablePath()", entry], {
      env: { ...process.env, TMPDIR: staging, AWS_EXECUTION_ENV: "AWS_Lambda_nodejs20.x" },
      stdio: ["ignore", "ignore", "inherit"]
    })
    if (r.status !== 0 || !existsSync(join(staging, "chromium"))) {
      rmSync(staging, { recursive: true, force: true })
      say(`could not unpack @sparticuz/chromium ${version}`)
      return undefined
    }
    // Its fonts.conf names /tmp/fonts; without fonts the renderer aborts on a page's web fonts.
    writeFileSync(
      join(staging, "fonts/fonts.conf"),
      `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n  <dir>${join(dir, "fonts/fonts")}</dir>\n  <cachedir>${join(dir, "fonts-cache")}</cachedir>\n</fontconfig>\n`
    )
    try {
      renameSync(staging, dir)
    } catch {
      // Another test run unpacked it at the same time.
      rmSync(staging, { recursive: true, force: true })
    }
  }
  const b = browser()
  if (runs(b.executablePath, ["--version"], b.env)) return b
  say(`the Chromium of @sparticuz/chromium ${version} does not run on this machine (${process.platform}-${process.arch}; it is built for linux-x64)`)
  return undefined
}

/** The headless Chromium of the docs browser test; throws with what to do when there is none. */
export const chromium = (): Browser => {
  const system = process.env.SYNTHLINE_CHROMIUM ?? "/usr/bin/chromium"
  if (existsSync(system)) return { executablePath: system, env: {}, origin: system }
  say(`no browser at ${system}${process.env.SYNTHLINE_CHROMIUM === undefined ? "" : " (SYNTHLINE_CHROMIUM)"}`)
  const packaged = packagedChromium()
  if (packaged !== undefined) return packaged
  if (aptInstall(["chromium"], "the docs browser test needs Chromium") && existsSync("/usr/bin/chromium")) {
    return { executablePath: "/usr/bin/chromium", env: {}, origin: "/usr/bin/chromium" }
  }
  throw new Error(
    "The docs browser test (apps/docs/test/site.test.ts) needs headless Chromium, and none could be found or provided: " +
      `there is none at ${system}, the one of the @sparticuz/chromium package (linux-x64) is not installed or does not run here, ` +
      `and ${aptOutcome("chromium")}. ` +
      "Install Chromium (Debian/Ubuntu: sudo apt-get install chromium) or set SYNTHLINE_CHROMIUM to a Chromium or Chrome executable, then rerun."
  )
}

/** The gpg executable of the release encryption tests; throws with what to do when there is none. */
export const gpg = (): string => {
  const found = onPath("gpg")
  if (found !== undefined) return found
  if (aptInstall(["gnupg"], "the release encryption tests need gpg")) {
    const installed = onPath("gpg") ?? (runs("/usr/bin/gpg", ["--version"]) ? "/usr/bin/gpg" : undefined)
    if (installed !== undefined) return installed
  }
  throw new Error(
    "The release encryption tests (packages/core/test/Release.test.ts, packages/cli/test/cli.test.ts) open encrypted output " +
      `with the real gpg, which is not on PATH, and ${aptOutcome("gnupg")}. ` +
      "Install GnuPG (Debian/Ubuntu: sudo apt-get install gnupg; macOS: brew install gnupg), then rerun."
  )
}
