/**
 * Help pages and argument checks of the `synthline` command line. @effect/cli parses the
 * arguments; this module reads its command descriptors (usage and help docs) and prints help the
 * way git or cargo do: a usage line where optional parts are bracketed, one line per option,
 * examples, no colour unless stdout is a terminal and `NO_COLOR` is unset. Before @effect/cli
 * sees the arguments, unknown commands and options are refused with the nearest valid name.
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import type * as HelpDoc from "@effect/cli/HelpDoc"
import type * as Span from "@effect/cli/HelpDoc/Span"
import type * as Usage from "@effect/cli/Usage"
import { nearest } from "@synthline/core/Errors"
import { HashMap, Option } from "effect"

/** What to do with the arguments: print help, refuse them, or let @effect/cli run them. */
export type Checked =
  | { readonly _tag: "Help"; readonly text: string }
  | { readonly _tag: "Refused"; readonly message: string }
  | { readonly _tag: "Run" }

/** Ways of printing help. */
export interface HelpOptions {
  /** Bold section titles (only for a terminal without NO_COLOR). */
  readonly color: boolean
  /** Example command lines per command name (`""` for the root command). */
  readonly examples?: { readonly [command: string]: ReadonlyArray<string> }
  /** Lines printed last on the root command's help. */
  readonly footer?: ReadonlyArray<string>
}

/** Whether help may use colour: stdout is a terminal, `NO_COLOR` is unset or empty, `TERM` is not `dumb`. */
export const useColor = (isTTY: boolean | undefined, env: { readonly [k: string]: string | undefined }): boolean =>
  isTTY === true && (env.NO_COLOR ?? "") === "" && env.TERM !== "dumb"

// Options every command gets from @effect/cli, described once in the footer.
const builtinWithValue = new Set(["--completions", "--log-level"])
const builtinFlags = new Set(["--help", "-h", "--version", "--wizard"])

/** One option or argument of a command, read from its usage and help doc. */
interface Entry {
  readonly names: ReadonlyArray<string>
  readonly value: string | undefined
  readonly optional: boolean
  readonly repeated: boolean
}

const isOption = (name: string): boolean => name.startsWith("-")

const entries = (u: Usage.Usage, optional = false, repeated = false): Array<Entry> => {
  switch (u._tag) {
    case "Named":
      return [{ names: u.names, value: Option.getOrUndefined(u.acceptedValues), optional, repeated }]
    case "Optional":
      return entries(u.usage, true, repeated)
    case "Repeated":
      return entries(u.usage, optional, true)
    case "Alternation":
    case "Concat":
      return [...entries(u.left, optional, repeated), ...entries(u.right, optional, repeated)]
    default:
      return []
  }
}

// Placeholders clearer than the value's type.
const metavars: { readonly [option: string]: string } = { "--shard": "<I/N>", "--fields": "<A,B,...>" }

const metavar = (name: string, value: string): string => {
  if (metavars[name] !== undefined) return metavars[name]
  if (value.includes("|")) return `<${value.replace(/\s+/g, "")}>`
  if (value === "integer") return "<N>"
  if (value === "directory") return "<DIR>"
  if (value === "file") return "<FILE>"
  return `<${name.replace(/^-+/, "").toUpperCase()}>`
}

const argName = (name: string): string => (name.startsWith("<") ? name : `<${name}>`)

const entryText = (e: Entry): string =>
  isOption(e.names[0]!) ? [...e.names].sort((a, b) => a.length - b.length).join(", ") + (e.value !== undefined ? ` ${metavar(e.names[0]!, e.value)}` : "") : argName(e.names[0]!)

const usagePart = (e: Entry): string => {
  const option = isOption(e.names[0]!)
  const base = option ? `${e.names[0]}${e.value !== undefined ? ` ${metavar(e.names[0]!, e.value)}` : ""}` : argName(e.names[0]!)
  if (option && e.repeated) return `[${base}]...`
  const rep = e.repeated ? `${base}...` : base
  return e.optional || (option && e.value === undefined) ? `[${rep}]` : rep
}

const spanText = (s: Span.Span): string => {
  switch (s._tag) {
    case "Text":
      return s.value
    case "URI":
      return s.value
    case "Sequence":
      return spanText(s.left) + spanText(s.right)
    default:
      return spanText(s.value)
  }
}

// The sentences @effect/cli adds for every option of a type ("A true or false value.",
// "This setting is optional."): the option's own description says more.
const generic = (text: string): boolean =>
  /^(This (setting|option|argument) |One of the following:|An? (true or false value|integer|user-defined piece of text|floating point number|directory|file|existing |date|secret|path|file or directory)\b)/.test(
    text
  )

interface Sections {
  readonly description: Array<string>
  /** Descriptions of options and arguments by their first name. */
  readonly described: Map<string, string>
  /** Command names in the order the root help lists them. */
  readonly commands: Array<string>
}

const sections = (doc: HelpDoc.HelpDoc): Sections => {
  const s: Sections = { description: [], described: new Map(), commands: [] }
  let header = ""
  const paragraphs = (d: HelpDoc.HelpDoc): Array<string> =>
    d._tag === "Paragraph" ? [spanText(d.value)] : d._tag === "Sequence" ? [...paragraphs(d.left), ...paragraphs(d.right)] : []
  const walk = (d: HelpDoc.HelpDoc): void => {
    switch (d._tag) {
      case "Header":
        header = spanText(d.value)
        return
      case "Paragraph":
        if (header === "DESCRIPTION") s.description.push(spanText(d.value))
        return
      case "Sequence":
        walk(d.left)
        walk(d.right)
        return
      case "Enumeration":
        if (header === "COMMANDS")
          for (const e of d.elements) for (const p of paragraphs(e)) s.commands.push(p.trim().split(/\s/)[0]!)
        return
      case "DescriptionList":
        for (const [span, body] of d.definitions) {
          const title = spanText(span).trim()
          if (header === "COMMANDS") {
            s.commands.push(title.replace(/^- /, "").split(/\s/)[0]!)
            continue
          }
          const first = title.replace(/^\(/, "").split(/[\s,)]/)[0]!
          const own = paragraphs(body).filter((p) => !generic(p))
          s.described.set(first, own.join(" "))
        }
        return
      default:
        return
    }
  }
  walk(doc)
  return s
}

const wrap = (text: string, indent: number, width = 100): string => {
  const words = text.split(/\s+/).filter((w) => w !== "")
  const lines: Array<string> = []
  let cur = ""
  for (const w of words) {
    if (cur !== "" && indent + cur.length + 1 + w.length > width) {
      lines.push(cur)
      cur = w
    } else cur = cur === "" ? w : `${cur} ${w}`
  }
  if (cur !== "") lines.push(cur)
  return lines.join(`\n${" ".repeat(indent)}`)
}

const table = (rows: ReadonlyArray<readonly [string, string]>): Array<string> => {
  const w = Math.min(30, Math.max(0, ...rows.map(([l]) => l.length)))
  return rows.map(([l, r]) =>
    r === "" ? `  ${l}` : l.length > w ? `  ${l}\n${" ".repeat(w + 4)}${wrap(r, w + 4)}` : `  ${l.padEnd(w)}  ${wrap(r, w + 4)}`
  )
}

const subcommand = <N extends string, R, E, A>(root: Command.Command<N, R, E, A>, name: string): Option.Option<Descriptor.Command<unknown>> =>
  HashMap.get(Command.getSubcommands(root), name)

const commandEntries = (d: Descriptor.Command<unknown>): Array<Entry> => {
  // The first Named of a command's usage is the command's own name.
  const all = entries(Descriptor.getUsage(d))
  return all.slice(1).filter((e) => !e.names.some((n) => builtinFlags.has(n) || builtinWithValue.has(n)))
}

/** The help page of the root command (`path` empty) or of one subcommand. */
export const render = <N extends string, R, E, A>(root: Command.Command<N, R, E, A>, path: ReadonlyArray<string>, options: HelpOptions): string => {
  const bold = (t: string): string => (options.color ? `\x1b[1m${t}\x1b[0m` : t)
  const rootDoc = sections(Command.getHelp(root, CliConfig.defaultConfig))
  const name = path[0]
  const sub = name === undefined ? Option.none() : subcommand(root, name)
  if (name === undefined || Option.isNone(sub)) {
    const rows = rootDoc.commands.map((c): readonly [string, string] => {
      const d = subcommand(root, c)
      const text = Option.isSome(d) ? sections(Descriptor.getHelp(d.value, CliConfig.defaultConfig)).description.join(" ") : ""
      return [c, text.replace(/\.\s.*$/, ".")]
    })
    return [
      ...rootDoc.description,
      "",
      `${bold("Usage:")} synthline <COMMAND> [OPTIONS] [ARGS]`,
      "",
      bold("Commands:"),
      ...table(rows),
      "",
      bold("Options:"),
      ...table([
        ["-h, --help", "Show help (also after a command: synthline run --help)."],
        ["--version", "Show the version."],
        ["--completions <sh|bash|fish|zsh>", "Print a shell completion script."],
        ["--log-level <LEVEL>", "Minimum log level: all, trace, debug, info, warning, error, fatal, none."]
      ]),
      ...examples(options.examples?.[""], bold),
      ...(options.footer !== undefined ? ["", ...options.footer] : [])
    ].join("\n")
  }
  const d = sub.value
  const doc = sections(Descriptor.getHelp(d, CliConfig.defaultConfig))
  const es = commandEntries(d)
  const args = es.filter((e) => !isOption(e.names[0]!))
  const opts = es.filter((e) => isOption(e.names[0]!))
  const describe = (e: Entry): string => doc.described.get(e.names[0]!) ?? doc.described.get(argName(e.names[0]!)) ?? ""
  return [
    ...doc.description.map((p) => wrap(p, 0)),
    "",
    `${bold("Usage:")} synthline ${name} ${[...opts, ...args].map(usagePart).join(" ")}`.trimEnd(),
    ...(args.length > 0
      ? ["", bold("Arguments:"), ...table(args.map((e) => [entryText(e), describe(e) + (e.optional ? " (optional)" : "")]))]
      : []),
    "",
    bold("Options:"),
    ...table([
      ...opts.map((e): readonly [string, string] => [
        entryText(e),
        describe(e) + (e.repeated && !/repeatable/i.test(describe(e)) ? " (repeatable)" : "")
      ]),
      ["-h, --help", "Show this help."]
    ]),
    ...examples(options.examples?.[name], bold),
    "",
    "Global options: --log-level <LEVEL>, --version; see synthline --help."
  ].join("\n")
}

const examples = (lines: ReadonlyArray<string> | undefined, bold: (t: string) => string): Array<string> =>
  lines === undefined || lines.length === 0 ? [] : ["", bold("Examples:"), ...lines.map((l) => `  ${l}`)]

// Command names users bring from other tools, with the synthline command that does it.
const commandHints: { readonly [command: string]: string } = {
  inspect: "head",
  show: "head",
  cat: "head",
  check: "validate",
  list: "stages",
  gen: "sample",
  generate: "sample"
}

// Flags users bring from other tools, with what synthline offers instead.
const hints: { readonly [flag: string]: string } = {
  "--dry-run": "to see what a run would do without running it, use: synthline plan FILE",
  "--verbose": "use --log-level debug",
  "-v": "use --log-level debug (or --version for the version)"
}

const unknownOption = (flag: string, command: string, known: ReadonlyArray<string>): string => {
  const near = nearest(flag.replace(/^-+/, ""), known.map((k) => k.replace(/^-+/, "")))
  const suggestion =
    hints[flag] !== undefined
      ? `; ${hints[flag]}`
      : near !== undefined
        ? `; did you mean ${known.find((k) => k.replace(/^-+/, "") === near)}?`
        : ""
  const list = known.filter((k) => k.startsWith("--"))
  const takes = list.length === 0 ? "takes no options but the global ones" : `takes: ${list.join(", ")}`
  return `unknown option ${flag} for ${command}${suggestion}\n${command} ${takes} (see ${command} --help)`
}

/**
 * Checks the arguments before @effect/cli parses them: help requests get our help page, an
 * unknown command or option is refused with the nearest valid one, anything else runs.
 */
export const check = <N extends string, R, E, A>(root: Command.Command<N, R, E, A>, argv: ReadonlyArray<string>, options: HelpOptions): Checked => {
  const names = Command.getSubcommands(root)
  let i = 0
  while (i < argv.length && argv[i]!.startsWith("-")) {
    const a = argv[i]!
    const key = a.split("=")[0]!
    if (a === "-h" || a === "--help") return { _tag: "Help", text: render(root, [], options) }
    if (builtinWithValue.has(key)) i += a.includes("=") ? 1 : 2
    else if (builtinFlags.has(key)) i += 1
    else return { _tag: "Refused", message: unknownOption(a, "synthline", [...builtinFlags, ...builtinWithValue]) }
  }
  if (i >= argv.length) return argv.length === 0 ? { _tag: "Help", text: render(root, [], options) } : { _tag: "Run" }
  const name = argv[i]!
  const sub = HashMap.get(names, name)
  if (Option.isNone(sub)) {
    const commands = sections(Command.getHelp(root, CliConfig.defaultConfig)).commands
    const near = commandHints[name] ?? nearest(name, commands)
    return {
      _tag: "Refused",
      message: `unknown command '${name}'${near !== undefined ? `; did you mean '${near}'?` : ""}\ncommands: ${commands.join(", ")} (see synthline --help)`
    }
  }
  const es = commandEntries(sub.value).filter((e) => isOption(e.names[0]!))
  const known = new Map<string, Entry>()
  for (const e of es) for (const n of e.names) known.set(n, e)
  const rest = argv.slice(i + 1)
  for (let j = 0; j < rest.length; j++) {
    const a = rest[j]!
    if (a === "--") break
    if (a === "-h" || a === "--help") return { _tag: "Help", text: render(root, [name], options) }
    if (!a.startsWith("-") || a === "-" || /^-\d/.test(a)) continue
    const key = a.split("=")[0]!
    const e = known.get(key)
    if (e !== undefined) {
      if (e.value !== undefined && !a.includes("=")) j++
      continue
    }
    if (builtinWithValue.has(key)) {
      if (!a.includes("=")) j++
      continue
    }
    if (builtinFlags.has(key)) continue
    return { _tag: "Refused", message: unknownOption(a, `synthline ${name}`, [...known.keys()]) }
  }
  return { _tag: "Run" }
}
