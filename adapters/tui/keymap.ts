/**
 * Keys to intents, in one table: the help screen is generated from the same table, so what it says
 * is what the keys do. Pure: blessed's key event in, an intent out.
 */

export type EditOperation =
  | "backspace"
  | "delete"
  | "left"
  | "right"
  | "home"
  | "end"
  | "wordLeft"
  | "wordRight"
  | "deleteWordBack"
  | "killToStart"
  | "killToEnd"
  | "yank"
  | "historyPrevious"
  | "historyNext"

/** The menu of the design note, plus the two lists it asks for and help. */
export type MenuItem = "users" | "createGroup" | "groups" | "joinGroup" | "talk" | "requests" | "acceptances" | "help"

export type ScrollAmount = "pageUp" | "pageDown" | "lineUp" | "lineDown" | "top" | "bottom"

export type UiIntent =
  | { readonly _tag: "submit" }
  | { readonly _tag: "newline" }
  | { readonly _tag: "insert"; readonly text: string }
  | { readonly _tag: "edit"; readonly operation: EditOperation }
  | { readonly _tag: "complete" }
  | { readonly _tag: "menu" }
  | { readonly _tag: "menuItem"; readonly item: MenuItem }
  | { readonly _tag: "nextBuffer" }
  | { readonly _tag: "previousBuffer" }
  | { readonly _tag: "nextActivity" }
  | { readonly _tag: "jumpToBuffer"; readonly number: number }
  | { readonly _tag: "scroll"; readonly amount: ScrollAmount }
  | { readonly _tag: "redraw" }
  | { readonly _tag: "quit" }
  | { readonly _tag: "ignore" }

/** The part of blessed's key event we read. */
export interface KeyEvent {
  readonly full?: string
  readonly name?: string
  readonly ctrl?: boolean
  readonly meta?: boolean
  readonly sequence?: string
}

export interface KeyBinding {
  readonly keys: ReadonlyArray<string>
  /** How the help shows the keys. */
  readonly label: string
  readonly intent: UiIntent
  readonly help: string
}

const edit = (operation: EditOperation): UiIntent => ({ _tag: "edit", operation })
const menuItem = (item: MenuItem): UiIntent => ({ _tag: "menuItem", item })

export const MENU_ITEMS: ReadonlyArray<{ readonly item: MenuItem; readonly key: string; readonly title: string }> = [
  { item: "users", key: "F1", title: "List users and groups" },
  { item: "createGroup", key: "F2", title: "Create a group" },
  { item: "groups", key: "F3", title: "List groups (name, leader, members)" },
  { item: "joinGroup", key: "F4", title: "Join a group" },
  { item: "talk", key: "F5", title: "Start a one-to-one conversation" },
  { item: "requests", key: "F6", title: "Requests received" },
  { item: "acceptances", key: "F7", title: "Acceptances (with their topics)" },
  { item: "help", key: "F8", title: "Help: commands and keys" },
]

export const KEY_BINDINGS: ReadonlyArray<KeyBinding> = [
  { keys: ["enter"], label: "Enter", intent: { _tag: "submit" }, help: "send the line (or run the /command)" },
  // Alt-Enter arrives as ESC CR, which blessed drops: the raw-input path (chat-tui.ts) maps it here.
  { keys: ["linefeed"], label: "Ctrl-J / Alt-Enter", intent: { _tag: "newline" }, help: "new line inside one message (a paste keeps its lines too)" },
  { keys: ["C-o", "f10"], label: "Ctrl-O / F10", intent: { _tag: "menu" }, help: "the menu" },
  ...MENU_ITEMS.map((entry) => ({ keys: [entry.key.toLowerCase()], label: entry.key, intent: menuItem(entry.item), help: entry.title })),
  { keys: ["C-n", "M-right", "M-down"], label: "Ctrl-N / Alt-→", intent: { _tag: "nextBuffer" }, help: "next buffer" },
  { keys: ["C-p", "M-left", "M-up"], label: "Ctrl-P / Alt-←", intent: { _tag: "previousBuffer" }, help: "previous buffer" },
  { keys: ["M-a", "C-x"], label: "Alt-A / Ctrl-X", intent: { _tag: "nextActivity" }, help: "jump to the next buffer with unread messages or a request" },
  ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => ({ keys: [`M-${n}`], label: n === 1 ? "Alt-1..9" : "", intent: { _tag: "jumpToBuffer", number: n } as UiIntent, help: n === 1 ? "go to buffer 1..9 (numbers in the side list)" : "" })),
  { keys: ["pageup", "S-up"], label: "PgUp", intent: { _tag: "scroll", amount: "pageUp" }, help: "scroll back; at the top, load older messages" },
  { keys: ["pagedown", "S-down"], label: "PgDn", intent: { _tag: "scroll", amount: "pageDown" }, help: "scroll forward" },
  { keys: ["M-home", "C-home"], label: "Alt-Home", intent: { _tag: "scroll", amount: "top" }, help: "top of what is loaded" },
  { keys: ["M-end", "C-end"], label: "Alt-End", intent: { _tag: "scroll", amount: "bottom" }, help: "back to the newest message" },
  { keys: ["tab"], label: "Tab", intent: { _tag: "complete" }, help: "complete a command, user id or group name" },
  { keys: ["up"], label: "↑ / ↓", intent: edit("historyPrevious"), help: "lines sent in this buffer (each buffer keeps its own draft)" },
  { keys: ["down"], label: "", intent: edit("historyNext"), help: "" },
  { keys: ["left", "C-b"], label: "← → Home End", intent: edit("left"), help: "move in the line (also Ctrl-A, Ctrl-E)" },
  { keys: ["right", "C-f"], label: "", intent: edit("right"), help: "" },
  { keys: ["home", "C-a"], label: "", intent: edit("home"), help: "" },
  { keys: ["end", "C-e"], label: "", intent: edit("end"), help: "" },
  { keys: ["M-b", "C-left"], label: "Alt-B / Alt-F", intent: edit("wordLeft"), help: "word left / right" },
  { keys: ["M-f", "C-right"], label: "", intent: edit("wordRight"), help: "" },
  { keys: ["backspace"], label: "Backspace / Del", intent: edit("backspace"), help: "delete a character" },
  { keys: ["delete", "C-d"], label: "", intent: edit("delete"), help: "" },
  { keys: ["C-w", "M-backspace"], label: "Ctrl-W", intent: edit("deleteWordBack"), help: "delete the word before the cursor" },
  { keys: ["C-u"], label: "Ctrl-U / Ctrl-K", intent: edit("killToStart"), help: "delete to the start / the end (Ctrl-Y puts it back)" },
  { keys: ["C-k"], label: "", intent: edit("killToEnd"), help: "" },
  { keys: ["C-y"], label: "", intent: edit("yank"), help: "" },
  { keys: ["C-l"], label: "Ctrl-L", intent: { _tag: "redraw" }, help: "redraw the screen" },
  { keys: ["C-q", "C-c"], label: "Ctrl-Q / Ctrl-C", intent: { _tag: "quit" }, help: "quit (announces offline)" },
]

const byKey = new Map<string, UiIntent>()
for (const binding of KEY_BINDINGS) for (const key of binding.keys) byKey.set(key, binding.intent)

const isPrintable = (ch: string): boolean => ch.length > 0 && !/[\u0000-\u001f\u007f-\u009f]/.test(ch)

/**
 * The intent of one key. blessed reports Enter twice (as "return", then as "enter"): only "enter"
 * counts. A printable character without Ctrl or Alt is text.
 */
export const intentOf = (ch: string | undefined, key: KeyEvent | undefined): UiIntent => {
  const full = key?.full ?? ch ?? ""
  if (full === "return") return { _tag: "ignore" }
  const bound = byKey.get(full)
  if (bound !== undefined) return bound
  if (ch !== undefined && isPrintable(ch) && key?.ctrl !== true && key?.meta !== true) return { _tag: "insert", text: ch }
  return { _tag: "ignore" }
}

/** Lines for the help popup: "label — what it does". */
export const keyHelpLines = (): ReadonlyArray<{ readonly label: string; readonly help: string }> =>
  KEY_BINDINGS.filter((binding) => binding.label !== "").map((binding) => ({ label: binding.label, help: binding.help }))
