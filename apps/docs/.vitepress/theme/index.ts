/** The site's theme: VitePress's default theme with the site's styles (style.css). */
import type { Theme } from "vitepress"
import DefaultTheme from "vitepress/theme"
import "./style.css"

const theme: Theme = DefaultTheme

export default theme
