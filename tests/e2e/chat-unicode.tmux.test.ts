/**
 * Wide characters and colours as a real terminal shows them: two chat clients in tmux.
 *
 * The width of an emoji sequence is the terminal's decision, not Unicode's, so nothing here
 * hard-codes one: tmux itself measures every kind of cluster first (and must agree with the width
 * model), and the screens are then checked against what tmux shows. A ghost is a cell the terminal
 * still shows although the program drew something else there; Ctrl-L clears and redraws everything,
 * so a screen without ghosts is the same before and after it.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { displayWidth } from "../../adapters/tui/text-width.ts"
import { startAedes, type BrokerHandle } from "../support/brokers.ts"
import { blackOnDefault, columnsOf, graphemesOf, measureWidths, parseStyled, settledCapture } from "../support/terminal-screen.ts"
import { CHAT, connectedUserId, ROOT, terminalTestsRun, TmuxServer, TSX } from "../support/tmux.ts"

const available = await terminalTestsRun()

const COLUMNS = 120
const ROWS = 36
/** The side list is a fifth of 120 columns; its last column is the divider. */
const DIVIDER_COLUMN = 23

/** The line of the bug report: precomposed Ó, an emoji, CJK, a dash, a flag. */
const LINE = "Ótimo 👍 我带基准数字 — 🇧🇷 ok"
/** Decomposed accents, a skin tone, a ZWJ family, an emoji by variation selector, a keycap, a ZWJ flag, Thai and Hangul jamo. */
const MORE = "Ótimo e\u0301 👍🏽 👨‍👩‍👧 ❤️ 1️⃣ 🏳️‍🌈 ก้ \u1100\u1161\u11a8 end"
/** Wide clusters of both parities, long enough to wrap and to run under every popup border; numbered at the end. */
const run = (n: number): string => `${"x".repeat(n % 2)}${"我👍🇧🇷ó".repeat(35)} #${n}`
const RUNS = 11

describe.skipIf(!available)("wide characters and colours in tmux", () => {
  let broker: BrokerHandle
  let tmux: TmuxServer
  let dataDir: string
  /** tmux's width of every grapheme the test sends, measured in tmux. */
  const measured = new Map<string, number>()
  const widthOf = (grapheme: string): number => {
    if (/^[\x20-\x7e]$/.test(grapheme)) return 1
    const width = measured.get(grapheme)
    if (width === undefined) throw new Error(`not measured in tmux: ${JSON.stringify(grapheme)}`)
    return width
  }
  const samples = [...new Set([...graphemesOf(LINE), ...graphemesOf(MORE), ...graphemesOf(run(1)), "─", "│", "┌", "┐", "└", "┘", "●", "○", "…", "·", "↵", "▶", "✓"])].filter((g) => !/^[\x20-\x7e]$/.test(g))
  /** Single code points too, only to read screens that show broken clusters (half a flag). */
  const pieces = [...new Set([...LINE, ...MORE])].filter((p) => !/^[\x20-\x7e]$/.test(p) && !samples.includes(p))

  beforeAll(async () => {
    broker = await startAedes()
    dataDir = mkdtempSync(join(tmpdir(), "mqtt-chat-e2e-unicode-"))
    tmux = await TmuxServer.start({ width: COLUMNS, height: ROWS })
    await tmux.newWindow("measure", ROOT)
    const widths = await measureWidths(tmux, "measure", TSX, [...samples, ...pieces])
    ;[...samples, ...pieces].forEach((sample, i) => measured.set(sample, widths[i]!))
  })

  afterAll(async () => {
    await tmux?.kill()
    await broker?.dispose()
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
  })

  const launch = async (window: string, profile: string, env = ""): Promise<void> => {
    await tmux.line(window, `clear; ${env} ${CHAT} --broker ${broker.url} --data-dir ${dataDir} --profile ${profile}; echo "EXIT=$?"`)
  }

  const idOf = (window: string): Promise<string> => connectedUserId(tmux, window)

  const rowsOf = (screen: string): ReadonlyArray<string> => screen.replace(/\n$/, "").split("\n")
  const inputLine = (screen: string): string => rowsOf(screen)[ROWS - 1]?.trimEnd() ?? ""
  /** The message pane's part of a row, from the column after the divider, as tmux shows it. */
  const paneText = (row: string): string => columnsOf(row, widthOf).slice(DIVIDER_COLUMN + 1).join("").trimEnd()

  /** Every row above the status bar has the side list's divider in its column. */
  const expectDividerIntact = (screen: string): void => {
    const rows = rowsOf(screen)
    const broken = rows.slice(0, ROWS - 2).map((row, i) => ({ i, at: columnsOf(row, widthOf)[DIVIDER_COLUMN] })).filter((r) => r.at !== "│")
    expect.soft(broken, screen).toEqual([])
  }

  /**
   * The screen is what a full redraw draws: Ctrl-L, then a keystroke and its undo (whose effect
   * shows that the redraw was done), and the screen must be as it was. `shows` tells, from the
   * screen before, whether a screen has the probe keystroke "q" drawn.
   */
  const expectNoGhosts = async (window: string, shows: (before: string) => (screen: string) => boolean): Promise<void> => {
    const before = await settledCapture(tmux, window)
    await tmux.keys(window, "C-l")
    await tmux.type(window, "q")
    await tmux.waitFor(window, "the probe keystroke is drawn", shows(before))
    await tmux.keys(window, "BSpace")
    await tmux.waitFor(window, "the probe is undone", (screen) => !shows(before)(screen))
    const after = await settledCapture(tmux, window)
    expect.soft(after).toBe(before)
  }
  /** "q" typed at the end of the input line. */
  const inputProbe = (before: string) => {
    const line = inputLine(before)
    const expected = line.endsWith("]") ? `${line} q` : `${line}q`
    return (screen: string) => inputLine(screen) === expected
  }

  it("tmux measures every kind of cluster the way the width model does", () => {
    const disagreements = samples.filter((s) => displayWidth(s) !== measured.get(s)).map((s) => ({ sample: s, tmux: measured.get(s), model: displayWidth(s) }))
    expect(disagreements).toEqual([])
    // The kinds that terminals disagree on are all among the samples.
    for (const kind of ["👍🏽", "👨‍👩‍👧", "🇧🇷", "❤️", "1️⃣", "🏳️‍🌈", "e\u0301", "我"]) expect(samples).toContain(kind)
  })

  it("sends the line with emoji, flags, CJK and combining marks: no stray cell on either screen, nothing needs Ctrl-L", async () => {
    await tmux.newWindow("a", ROOT)
    await tmux.newWindow("b", ROOT)
    await launch("a", "alice")
    await launch("b", "bob")
    const [idA, idB] = await Promise.all([idOf("a"), idOf("b")])
    await tmux.waitFor("a", "A sees B online", new RegExp(`● ${idB}`))
    await tmux.line("a", `/talk ${idB}`)
    await tmux.waitFor("b", "the popup takes answers", "[y] accept")
    await tmux.keys("b", "y")
    await tmux.waitFor("a", "the conversation is open", `${idB} accepted: conversation open on topic`)
    await tmux.waitFor("b", "B is in the conversation", `[@${idA}]`)

    // Typed, not sent: the input line holds exactly the line, the cursor right after it.
    await tmux.type("a", LINE)
    const typed = await tmux.waitFor("a", "the typed line", (screen) => inputLine(screen) === `[@${idB}] ${LINE}`)
    expect(inputLine(typed)).toBe(`[@${idB}] ${LINE}`)
    const cursor = await tmux.cursor("a")
    expect.soft(cursor).toEqual({ x: columnsOf(`[@${idB}] ${LINE}`, widthOf).length, y: ROWS - 1 })
    await expectNoGhosts("a", inputProbe)

    // Sent: the input line is empty (no "— 🇷 k" left behind) and both screens show the line whole.
    await tmux.keys("a", "Enter")
    // On A the line ends with its delivery mark (○, then ✓ once the broker has it).
    const sentRow = new RegExp(`^\\d\\d:\\d\\d <${idA}> ${LINE}( [○✓])?$`)
    const onA = await tmux.waitFor("a", "A shows its line", (screen) => rowsOf(screen).some((row) => sentRow.test(paneText(row))))
    expect.soft(inputLine(onA)).toBe(`[@${idB}]`)
    const onB = await tmux.waitFor("b", "B shows the line", (screen) => rowsOf(screen).some((row) => sentRow.test(paneText(row))))
    expectDividerIntact(onA)
    expectDividerIntact(onB)

    await tmux.line("a", MORE)
    const moreRow = new RegExp(`^\\d\\d:\\d\\d <${idA}> ${MORE}( [○✓])?$`)
    await tmux.waitFor("b", "B shows the second line", (screen) => rowsOf(screen).some((row) => moreRow.test(paneText(row))))
    // Enough wide text to fill the pane, wrapped, under any popup.
    for (let n = 0; n < RUNS; n++) await tmux.line("a", run(n))
    const last = ` #${RUNS - 1}`
    await tmux.waitFor("a", "A shows the last run, acknowledged", (screen) => rowsOf(screen).some((row) => paneText(row).endsWith(`${last} ✓`)))
    await tmux.waitFor("b", "B shows the last run", (screen) => rowsOf(screen).some((row) => paneText(row).endsWith(last)))
    const [screenA, screenB] = [await settledCapture(tmux, "a"), await settledCapture(tmux, "b")]
    expectDividerIntact(screenA)
    expectDividerIntact(screenB)
    // The pane wraps each run by terminal columns, and both screens wrap it the same way.
    const paneRows = (screen: string) => rowsOf(screen).slice(ROWS - 2 - 3 * RUNS, ROWS - 2).map(paneText)
    // The sender's rows end with the delivery mark, which fits in each run's last row.
    expect(paneRows(screenA).map((row) => row.replace(/ ✓$/, ""))).toEqual(paneRows(screenB))
    for (const row of paneRows(screenA)) expect(columnsOf(row, widthOf).length).toBeLessThanOrEqual(COLUMNS - DIVIDER_COLUMN - 1)
    expect(paneRows(screenA).filter((row) => row.includes("我")).length).toBeGreaterThanOrEqual(3 * RUNS - 1)
    await expectNoGhosts("a", inputProbe)
    await expectNoGhosts("b", inputProbe)

    // A popup over the wide text: its borders stand where they belong on every row.
    await tmux.keys("a", "F5")
    const popup = await tmux.waitFor("a", "the talk popup", (screen) => screen.includes("Enter confirm · Esc cancel"))
    const rows = rowsOf(popup).map((row) => columnsOf(row, widthOf))
    const top = rows.findIndex((cells) => cells.includes("┌"))
    const bottom = rows.findIndex((cells) => cells.includes("└"))
    expect(top).toBeGreaterThan(0)
    expect(bottom).toBeGreaterThan(top)
    const left = rows[top]!.indexOf("┌")
    const right = rows[top]!.indexOf("┐")
    expect(rows[bottom]![left]).toBe("└")
    expect(rows[bottom]![right]).toBe("┘")
    for (let y = top + 1; y < bottom; y++) {
      expect(rows[y]![left], `row ${y}: ${rows[y]!.join("")}`).toBe("│")
      expect(rows[y]![right], `row ${y}: ${rows[y]!.join("")}`).toBe("│")
      expect(rows[y]!.length).toBeLessThanOrEqual(COLUMNS)
    }
    await expectNoGhosts("a", () => (screen) => screen.includes("user id: q"))
    await tmux.keys("a", "Escape")
    await tmux.waitFor("a", "the popup is gone", (screen) => !screen.includes("Enter confirm · Esc cancel"))
    await expectNoGhosts("a", inputProbe)

    // Another conversation (the status buffer): nothing of the wide text is left behind.
    await tmux.keys("a", "M-1")
    const status = await tmux.waitFor("a", "the status buffer", (screen) => inputLine(screen) === "[status · commands only]")
    expect(status).not.toMatch(/我|👍|🇧|🇷|基准/)
    await expectNoGhosts("a", inputProbe)

    await tmux.keys("a", "C-q")
    await tmux.keys("b", "C-q")
    await tmux.waitFor("a", "A exits", "EXIT=0")
    await tmux.waitFor("b", "B exits", "EXIT=0")
  }, 180_000)

  it("draws grey visibly: no text black on the default background under tmux-256color, screen-256color and xterm", async () => {
    // The last case is an xterm outside tmux, whose terminfo says 8 colours: grey must not turn black.
    const cases = [
      { window: "tmux256", env: "TERM=tmux-256color", grey: "8" },
      { window: "screen256", env: "TERM=screen-256color", grey: "8" },
      { window: "xterm", env: "TERM=xterm", grey: "8" },
      { window: "xterm8", env: "env -u TMUX TERM=xterm", grey: "7" },
    ] as const
    for (const c of cases) {
      await tmux.newWindow(c.window, ROOT)
      await launch(c.window, `colours-${c.window}`, c.env)
    }
    for (const c of cases) {
      await idOf(c.window)
      const rows = parseStyled(await settledCapture(tmux, c.window, { styled: true }))
      expect.soft(blackOnDefault(rows), c.env).toEqual([])
      // The timestamps of the status buffer's notes are grey: drawn in a colour that shows.
      const stamps = rows.map((cells) => cells.slice(DIVIDER_COLUMN + 1, DIVIDER_COLUMN + 6)).filter((cells) => /^\d\d:\d\d$/.test(cells.map((cell) => cell.text).join("")))
      expect(stamps.length, c.env).toBeGreaterThan(0)
      for (const stamp of stamps) expect.soft(stamp.map((cell) => cell.fg), c.env).toEqual(Array(5).fill(c.grey))
    }
    for (const c of cases) await tmux.keys(c.window, "C-q")
    for (const c of cases) await tmux.waitFor(c.window, "the client exits", "EXIT=0")
  }, 120_000)
})
