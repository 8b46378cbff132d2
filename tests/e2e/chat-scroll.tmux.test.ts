/**
 * Scrolling in a real terminal (issue 8, problems 5 and 6): a conversation scrolled back holds its
 * view while messages arrive, and the title's "↓ N more lines" grows by what arrived below (as in
 * WeeChat and irssi); the help popup scrolls with the first ↓ and PgDn, as its footer says.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startAedes, type BrokerHandle } from "../support/brokers.ts"
import { CHAT, connectedUserId, ROOT, terminalTestsRun, TmuxServer } from "../support/tmux.ts"

const available = await terminalTestsRun()

const COLUMNS = 160
const ROWS = 24
const MORE_LINES = /↓ ([0-9]+) more lines?\b/
/** The help popup's footer when it is taller than the window: the rows shown and how many there are. */
const HELP_WINDOW = /↑↓ PgUp PgDn scroll · Esc close · ([0-9]+)-([0-9]+) of ([0-9]+)/

describe.skipIf(!available)("scrolling in tmux", () => {
  let broker: BrokerHandle
  let tmux: TmuxServer
  let dataDir: string

  beforeAll(async () => {
    broker = await startAedes()
    dataDir = mkdtempSync(join(tmpdir(), "mqtt-chat-e2e-scroll-"))
    tmux = await TmuxServer.start({ width: COLUMNS, height: ROWS })
  })

  afterAll(async () => {
    await tmux?.kill()
    await broker?.dispose()
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
  })

  const launch = async (window: string, profile: string): Promise<void> => {
    await tmux.line(window, `clear; ${CHAT} --broker ${broker.url} --data-dir ${dataDir} --profile ${profile}; echo "EXIT=$?"`)
  }

  const idOf = (window: string): Promise<string> => connectedUserId(tmux, window)

  const moreLines = (screen: string): number => Number(MORE_LINES.exec(screen)?.[1] ?? "0")
  /** The message rows on the screen, top to bottom. */
  const messageRows = (screen: string): ReadonlyArray<string> => screen.split("\n").filter((row) => /<user-[0-9]+> /.test(row))

  it("holds a scrolled-back view while messages arrive, counting them below; help scrolls with the first key", async () => {
    await tmux.newWindow("a", ROOT)
    await tmux.newWindow("b", ROOT)
    await launch("a", "reader")
    await launch("b", "writer")
    const [idA, idB] = await Promise.all([idOf("a"), idOf("b")])
    await tmux.waitFor("a", "A sees B online", new RegExp(`● ${idB}`))
    await tmux.line("a", `/talk ${idB}`)
    await tmux.waitFor("b", "the popup takes answers", "[y] accept")
    await tmux.keys("b", "y")
    await tmux.waitFor("a", "A learns B accepted", `${idB} accepted: conversation open on topic`)
    await tmux.waitFor("b", "B is typing to A", `[@${idA}]`)

    // Three screens of messages, then A scrolls back two pages.
    for (let n = 0; n < 60; n++) await tmux.line("b", `line ${n}`)
    await tmux.waitFor("a", "A has all of them", `<${idB}> line 59`)
    await tmux.keys("a", "PageUp")
    await tmux.waitFor("a", "A scrolled back", MORE_LINES)
    await tmux.keys("a", "PageUp")
    const before = await tmux.waitFor("a", "A scrolled back further", (screen) => moreLines(screen) > 20)
    const below = moreLines(before)
    const shown = messageRows(before)
    expect(shown.length).toBeGreaterThan(5)

    // Three more arrive: the view holds, and the count below grows by three.
    for (const n of [1, 2, 3]) await tmux.line("b", `late ${n}`)
    await tmux.waitFor("b", "B sent them", `<${idB}> late 3`)
    const after = await tmux.waitFor("a", "the count below grows by the three", (screen) => moreLines(screen) === below + 3, 10_000)
    expect(messageRows(after)).toEqual(shown)
    await tmux.keys("a", "M-End")
    await tmux.waitFor("a", "back at the newest", (screen) => screen.includes(`<${idB}> late 3`) && !MORE_LINES.test(screen))

    // Help: the first ↓ scrolls by a row, PgDn by a page, ↑ back; the footer says which rows show.
    await tmux.keys("a", "F8")
    const help = await tmux.waitFor("a", "the help popup, taller than the window", HELP_WINDOW)
    const [, first, last, total] = (HELP_WINDOW.exec(help) ?? []).map(Number)
    expect(first).toBe(1)
    expect(total).toBeGreaterThan(last!)
    /** The row under the popup's top border: the first help line shown. */
    const firstRow = (screen: string): string => {
      const rows = screen.split("\n")
      return rows[rows.findIndex((row) => row.includes("┌─ Help")) + 1] ?? ""
    }
    await tmux.keys("a", "Down")
    const down = await tmux.waitFor("a", "help scrolled by one row", (screen) => HELP_WINDOW.exec(screen)?.[1] === "2", 10_000)
    expect(firstRow(help)).toContain("Commands (your id")
    expect(firstRow(down)).toContain("/users")
    await tmux.keys("a", "PageDown")
    await tmux.waitFor("a", "help scrolled by a page", (screen) => Number(HELP_WINDOW.exec(screen)?.[1] ?? "0") > 2, 10_000)
    await tmux.keys("a", "Home")
    await tmux.waitFor("a", "help back at its start", (screen) => HELP_WINDOW.exec(screen)?.[1] === "1", 10_000)
    await tmux.keys("a", "Escape")
    await tmux.waitFor("a", "help closed", (screen) => !HELP_WINDOW.test(screen))

    await tmux.keys("a", "C-q")
    await tmux.keys("b", "C-q")
    await tmux.waitFor("a", "A exits", "EXIT=0")
    await tmux.waitFor("b", "B exits", "EXIT=0")
  }, 180_000)
})
