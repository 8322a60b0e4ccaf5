/** VitePress configuration of the synthline docs site. */
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { type DefaultTheme, defineConfig, type UserConfig } from "vitepress"

/** Stage ids per plugin, written by scripts/generate.ts. */
interface SidebarPlugin {
  readonly plugin: string
  readonly stages: ReadonlyArray<string>
}

const sidebarFile = join(import.meta.dirname, "../reference/sidebar.json")
const plugins: ReadonlyArray<SidebarPlugin> = existsSync(sidebarFile) ? JSON.parse(readFileSync(sidebarFile, "utf8")) : []

const guide: DefaultTheme.SidebarItem = {
  text: "Guide",
  items: [
    { text: "Getting started", link: "/guide/getting-started" },
    { text: "Concepts", link: "/guide/concepts" },
    { text: "Editor support", link: "/guide/editor" },
    { text: "The LMSYS-Chat-1M-Synth recipe", link: "/guide/recipe" },
    { text: "Run locally without a server", link: "/guide/local" },
    { text: "Running at scale", link: "/guide/scale" },
    { text: "What will this cost?", link: "/guide/cost" },
    { text: "Submitting to a cluster", link: "/guide/cluster" },
    { text: "Near-duplicates and decontamination", link: "/guide/dedup" },
    { text: "Answer quality and reports", link: "/guide/quality" },
    { text: "Troubleshooting", link: "/guide/troubleshooting" }
  ]
}

const authoring: DefaultTheme.SidebarItem = {
  text: "Plugins",
  items: [{ text: "Writing and publishing a plugin", link: "/guide/plugins" }]
}

const reference: DefaultTheme.SidebarItem = {
  text: "Reference",
  items: [
    { text: "Overview", link: "/reference/" },
    { text: "The pipeline file", link: "/reference/pipeline-file" },
    { text: "Sources and sinks", link: "/reference/sources-sinks" },
    ...plugins.map((p) => ({ text: `${p.plugin} stages`, link: `/reference/stages/${p.plugin}`, collapsed: true, items: [] })),
    { text: "API", link: "/api/" }
  ]
}

const config: UserConfig<DefaultTheme.Config> = defineConfig({
  title: "synthline",
  description: "Curated and synthetic instruction-tuning datasets from LLM conversation logs",
  cleanUrls: false,
  lastUpdated: false,
  head: [["link", { rel: "icon", type: "image/svg+xml", href: "/favicon.svg" }]],
  srcExclude: ["README.md", "test/**", "scripts/**"],
  // The local search index and the API pages make large chunks; that is expected here.
  vite: { build: { chunkSizeWarningLimit: 4000 } },
  themeConfig: {
    nav: [
      { text: "Guide", link: "/guide/getting-started" },
      { text: "Plugins", link: "/guide/plugins" },
      { text: "Reference", link: "/reference/" },
      { text: "API", link: "/api/" }
    ],
    sidebar: [guide, authoring, reference],
    search: { provider: "local" },
    outline: { level: [2, 3] }
  }
})

export default config
