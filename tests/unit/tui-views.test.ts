/** The side list, title, status bar and prompt: fitted to their width, untrusted text escaped. */
import { describe, expect, it } from "vitest"
import { styledLine, seg } from "../../adapters/tui/styled.ts"
import { displayWidth } from "../../adapters/tui/text-width.ts"
import { intentOf } from "../../adapters/tui/keymap.ts"
import { promptText, renderSidebar, renderStatusBar, type BufferSummary } from "../../adapters/tui/views.ts"
import type { GroupListing, UserListing } from "../../adapters/tui/chat-port.ts"
import type { GroupName, UserId } from "../../domain/ids.ts"

/** What blessed would show: tags removed, escaped braces restored (in one pass, as blessed parses). */
const visible = (tagged: string) => tagged.replace(/\{\/?[\w\-,;!#]*\}/g, (tag) => (tag === "{open}" ? "{" : tag === "{close}" ? "}" : ""))

const user = (id: string, status: UserListing["status"]): UserListing => ({ user: id as UserId, status, conversation: "idle", lastOutcome: "none" })
const group = (name: string): GroupListing => ({ name: name as GroupName, leader: "user-1" as UserId, members: ["user-1" as UserId], me: "listed", pending: [] })
const status: BufferSummary = { key: "status", number: 1, label: "status", unread: 0, requestPending: false, kind: "status", presence: null, conversation: null, membership: null }

describe("styledLine", () => {
  it("fits to the width by visible text, cuts with an ellipsis, escapes braces", () => {
    const line = styledLine([seg("{bold}", { fg: "red" }), seg(" tail")], 8)
    expect(visible(line)).toBe("{bold} …")
    expect(displayWidth(visible(line))).toBe(8)
    expect(visible(styledLine([seg("ab")], 5))).toBe("ab   ")
  })
})

describe("renderSidebar", () => {
  it("lists buffers with numbers and unread counts, users online first, groups, requests", () => {
    const peer: BufferSummary = { ...status, key: "@user-2", number: 2, label: "@user-2", unread: 7, kind: "peer", presence: "online", conversation: "active" }
    const view = renderSidebar({ buffers: [status, peer], activeKey: "status", users: [user("user-3", "offline"), user("user-2", "online")], groups: [group("team")], pendingRequests: 1 }, 24, 40)
    const text = view.lines.map(visible)
    expect(text.every((line) => displayWidth(line) === 24)).toBe(true)
    expect(text.find((line) => line.includes("@user-2"))).toMatch(/ 2 ● @user-2 +7/)
    expect(text.findIndex((line) => line.includes("● user-2"))).toBeLessThan(text.findIndex((line) => line.includes("○ user-3")))
    expect(text.some((line) => line.includes("#team (1) user-1"))).toBe(true)
    expect(text.some((line) => line.includes("1 request waiting"))).toBe(true)
    expect(view.targets[text.findIndex((line) => line.includes("@user-2"))]).toBe("@user-2")
  })

  it("cuts long lists to the height and says how many are hidden", () => {
    const users = Array.from({ length: 100 }, (_, i) => user(`user-${i + 10}`, "online"))
    const view = renderSidebar({ buffers: [status], activeKey: "status", users, groups: [group("g")], pendingRequests: 0 }, 24, 20)
    expect(view.lines.length).toBeLessThanOrEqual(20)
    expect(view.lines.map(visible).some((line) => /… \d+ more users/.test(line))).toBe(true)
  })
})

describe("status bar and prompt", () => {
  it("say who I am, the connection, the broker and where typing goes", () => {
    const bar = visible(renderStatusBar({ me: "user-1", broker: "mqtt://127.0.0.1:1883 (embedded)", connection: { _tag: "reconnecting", attempt: 3, error: "x" }, target: "#team", pendingRequests: 2, problems: 0, hint: null }, 160))
    expect(bar).toMatch(/^ user-1 .*reconnecting \(try 3\) mqtt:\/\/127\.0\.0\.1:1883 \(embedded\) │ to #team │ 2 requests/)
    expect(promptText("@user-2", "waiting")).toBe("[@user-2 · waiting] ")
    expect(promptText("#team", null)).toBe("[#team] ")
  })
})

describe("intentOf", () => {
  it("maps keys to intents; Enter counts once; printable text is inserted", () => {
    expect(intentOf("\r", { full: "return", name: "return" })).toEqual({ _tag: "ignore" })
    expect(intentOf("\r", { full: "enter", name: "enter" })).toEqual({ _tag: "submit" })
    expect(intentOf(undefined, { full: "f5", name: "f5" })).toEqual({ _tag: "menuItem", item: "talk" })
    expect(intentOf(undefined, { full: "M-3", name: "3", meta: true })).toEqual({ _tag: "jumpToBuffer", number: 3 })
    expect(intentOf("A", { full: "S-a", name: "a" })).toEqual({ _tag: "insert", text: "A" })
    expect(intentOf("é", undefined)).toEqual({ _tag: "insert", text: "é" })
    expect(intentOf("\u001b", { full: "escape", name: "escape" })).toEqual({ _tag: "ignore" })
    expect(intentOf("\u0011", { full: "C-q", name: "q", ctrl: true })).toEqual({ _tag: "quit" })
  })
})
