/**
 * The screen and its widgets:
 *
 *   ┌ side list ┐│ title line                      │
 *   │ buffers   ││ message pane (scrollback)       │
 *   │ users     ││                                 │
 *   │ groups    ││                                 │
 *   ├───────────┴┴─────────────────────────────────┤
 *   │ status bar: me · connection · broker · target │
 *   │ [target] input line                           │
 *
 * Sizes follow the terminal: the side list takes a fifth of the width (within bounds) and
 * everything is re-laid out on resize. Every widget parses tags, so every text put in them is
 * escaped (sanitize.ts) by whoever builds it, and every widget draws wide characters and emoji at
 * the widths text-width.ts measures (terminal-cells.ts).
 */
import blessed from "blessed"
import type { Widgets } from "blessed"
import { MessagePane } from "./message-pane.ts"
import { cellSafe, installCellDrawing } from "./terminal-cells.ts"
import { applyColourDepth } from "./terminal-colours.ts"

export const SIDEBAR_MIN_COLUMNS = 18
export const SIDEBAR_MAX_COLUMNS = 34
/** Below this width the side list hides: the conversation matters more. */
export const SIDEBAR_HIDE_BELOW_COLUMNS = 60

export interface Layout {
  readonly screen: Widgets.Screen
  readonly sidebar: Widgets.BoxElement
  readonly title: Widgets.BoxElement
  readonly pane: MessagePane
  readonly status: Widgets.BoxElement
  readonly input: Widgets.BoxElement
  readonly popup: Widgets.BoxElement
  /** Columns the side list takes now (0 when hidden). */
  sidebarWidth(): number
  /** Re-applies the geometry for the current terminal size. */
  relayout(): void
}

export const sidebarColumnsFor = (terminalColumns: number): number =>
  terminalColumns < SIDEBAR_HIDE_BELOW_COLUMNS ? 0 : Math.min(SIDEBAR_MAX_COLUMNS, Math.max(SIDEBAR_MIN_COLUMNS, Math.round(terminalColumns / 5)))

export const createScreen = (options: {
  readonly input: NodeJS.ReadableStream
  readonly output: NodeJS.WritableStream
  readonly title: string
  /** For the colour count (TERM, COLORTERM, TMUX); default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>
}): Widgets.Screen => {
  const screen = blessed.screen({
    // @types/blessed declares these two streams with each other's types.
    input: options.input as never,
    output: options.output as never,
    smartCSR: true,
    fullUnicode: true,
    // The app draws its own cursor position (the input line) after each render.
    autoPadding: false,
    warnings: false,
    title: options.title,
    dockBorders: false,
    // Ctrl-C and friends are handled as keys; blessed must not exit on its own.
    ignoreLocked: [],
    sendFocus: false,
  })
  // On a UTF-8 terminal draw "│ ─ ·" as themselves: blessed would otherwise switch to the
  // line-drawing charset (ACS), which maps "·" to a different glyph and garbles copy and paste.
  const tput = (screen.program as unknown as { readonly tput: { readonly unicode: boolean; brokenACS: boolean } }).tput
  if (tput.unicode) tput.brokenACS = true
  applyColourDepth(screen, options.env ?? process.env)
  installCellDrawing(screen)
  return screen
}

export const createLayout = (screen: Widgets.Screen): Layout => {
  // No border: the controller draws the divider as the last column (blessed's partial borders still take room on every side).
  const sidebar = blessed.box({ parent: screen, top: 0, left: 0, bottom: 2, width: SIDEBAR_MIN_COLUMNS, tags: true, wrap: false })
  const title = blessed.box({ parent: screen, top: 0, left: SIDEBAR_MIN_COLUMNS, right: 0, height: 1, tags: true, wrap: false, style: { bg: "blue" } })
  const paneBox = blessed.box({ parent: screen, top: 1, left: SIDEBAR_MIN_COLUMNS, right: 0, bottom: 2, tags: true, wrap: true, scrollable: true })
  const status = blessed.box({ parent: screen, bottom: 1, left: 0, right: 0, height: 1, tags: true, wrap: false, style: { bg: "blue" } })
  const input = blessed.box({ parent: screen, bottom: 0, left: 0, right: 0, height: 1, tags: true, wrap: false })
  const popup = blessed.box({
    parent: screen,
    top: "center",
    left: "center",
    width: "60%",
    height: "50%",
    tags: true,
    wrap: false,
    hidden: true,
    border: { type: "line" },
    style: { border: { fg: "yellow" }, label: { fg: "yellow", bold: true } },
  })
  for (const element of [sidebar, title, paneBox, status, input, popup]) cellSafe(element)
  let currentSidebar = 0
  const relayout = () => {
    const columns = screen.width as number
    currentSidebar = sidebarColumnsFor(columns)
    if (currentSidebar === 0) sidebar.hide()
    else {
      sidebar.show()
      sidebar.width = currentSidebar
    }
    title.left = currentSidebar
    paneBox.left = currentSidebar
  }
  relayout()
  return { screen, sidebar, title, pane: new MessagePane(paneBox), status, input, popup, sidebarWidth: () => currentSidebar, relayout }
}
