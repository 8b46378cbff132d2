/**
 * The chat client in a real terminal: two instances in tmux against one broker, driven by keys and
 * checked on the screen. Covers the design note's flows end to end: a one-to-one request accepted
 * in the popup, messages both ways, a group created, a join asked and accepted, chat in the group,
 * presence going offline on quit, history restored (marked "earlier") after a restart, and the
 * unsent line kept per conversation across buffer switches.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { FileEventLog } from "../../adapters/storage/file-event-log.ts"
import { LogEntry } from "../../domain/events.ts"
import { topics, type UserId } from "../../domain/ids.ts"
import { EventLog } from "../../domain/ports/event-log.port.ts"
import { startAedes, type BrokerHandle } from "../support/brokers.ts"
import { CHAT, connectedUserId, ROOT, terminalTestsRun, TmuxServer } from "../support/tmux.ts"


const available = await terminalTestsRun()

/** A profile whose log already holds `count` messages with `peer`, oldest "message 0". */
const writeProfileWithHistory = async (dir: string, me: UserId, peer: UserId, count: number): Promise<void> => {
  const decode = Schema.decodeUnknownSync(LogEntry)
  const topic = topics.talk(me, peer)
  const start = Date.now() - 60 * 60 * 1000
  const entries = [
    decode({ at: start, clock: 1, event: { _tag: "profile.created", user: me }, out: [] }),
    ...Array.from({ length: count }, (_, n) =>
      decode({ at: start + n * 1000, clock: n + 2, event: { _tag: "message.received", id: `history${String(n).padStart(6, "0")}`, from: peer, topic, text: `message ${n}`, sentAt: start + n * 1000, sentClock: n + 2, n: n + 1 }, out: [] }),
    ),
  ]
  await Effect.runPromise(Effect.scoped(EventLog.use((log) => log.append(entries)).pipe(Effect.provide(FileEventLog.layer({ dir })))))
}

describe.skipIf(!available)("chat client in tmux", () => {
  let broker: BrokerHandle
  let tmux: TmuxServer
  let dataDir: string

  beforeAll(async () => {
    broker = await startAedes()
    dataDir = mkdtempSync(join(tmpdir(), "mqtt-chat-e2e-"))
    tmux = await TmuxServer.start({ width: 160, height: 48 })
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

  it("requests, accepts, chats one-to-one and in a group, sees presence, restores history", async () => {
    await tmux.newWindow("a", ROOT)
    await tmux.newWindow("b", ROOT)
    await launch("a", "alice")
    await launch("b", "bob")
    const [idA, idB] = await Promise.all([idOf("a"), idOf("b")])
    expect(idA).not.toBe(idB)
    await tmux.waitFor("a", "A sees B online", new RegExp(`● ${idB}`))

    // One-to-one: A asks, B accepts in the popup, both talk.
    await tmux.line("a", `/talk ${idB}`)
    await tmux.waitFor("b", "the request popup on B", `${idA} wants a one-to-one conversation with you`)
    // The popup ignores keys for a moment (typing in flight must not answer it); its footer says when.
    await tmux.waitFor("b", "the popup takes answers", "[y] accept")
    await tmux.keys("b", "y")
    await tmux.waitFor("a", "A learns B accepted", `${idB} accepted: conversation open on topic`)
    await tmux.waitFor("b", "B is typing to A", `[@${idA}]`)
    await tmux.line("a", "hello from alice")
    await tmux.waitFor("b", "B reads A's message", `<${idA}> hello from alice`)
    await tmux.line("b", "hello from bob")
    await tmux.waitFor("a", "A reads B's message", `<${idB}> hello from bob`)

    // Both compare their safety number: the same 60 digits on both screens.
    const safety = /safety number with user-[0-9]+: ((?:[0-9]{5} ){11}[0-9]{5})/
    await tmux.line("a", "/whois")
    await tmux.line("b", "/whois")
    const [onA, onB] = await Promise.all([tmux.waitFor("a", "A's safety number", safety), tmux.waitFor("b", "B's safety number", safety)])
    expect(safety.exec(onA)?.[1]).toBe(safety.exec(onB)?.[1])

    // The unsent line belongs to its conversation (as in WeeChat): it stays there on a switch
    // (Alt-1: the status buffer, with its own line) and comes back; Enter sends it there.
    const inputLine = (screen: string): string => screen.trimEnd().split("\n").pop() ?? ""
    await tmux.type("a", "draft for bob")
    await tmux.waitFor("a", "the draft on A's input line", (screen) => inputLine(screen).startsWith(`[@${idB}] draft for bob`))
    await tmux.keys("a", "M-1")
    await tmux.waitFor("a", "the status buffer's own, empty line", (screen) => inputLine(screen) === "[status · commands only]" && !screen.includes("draft for bob"))
    await tmux.type("a", "/users later")
    await tmux.keys("a", "C-n")
    await tmux.waitFor("a", "the draft back in the conversation", (screen) => inputLine(screen) === `[@${idB}] draft for bob` && !screen.includes("/users later"))
    await tmux.keys("a", "M-1")
    await tmux.waitFor("a", "the status buffer's draft kept too", (screen) => inputLine(screen) === "[status · commands only] /users later")
    await tmux.keys("a", "C-u", "M-2")
    await tmux.waitFor("a", "in the conversation again", (screen) => inputLine(screen) === `[@${idB}] draft for bob`)
    // The broker goes away and comes back: the unsent line stays, and is sent after the reconnect.
    await broker.stop()
    await tmux.waitFor("a", "A sees the connection lost", (screen) => /reconnecting|disconnected/.test(screen), 20_000)
    expect(inputLine(await tmux.capture("a"))).toBe(`[@${idB}] draft for bob`)
    await broker.restart()
    await tmux.waitFor("a", "A reconnected", (screen) => /● connected/.test(screen) && !/reconnecting/.test(screen), 20_000)
    expect(inputLine(await tmux.capture("a"))).toBe(`[@${idB}] draft for bob`)
    await tmux.keys("a", "Enter")
    await tmux.waitFor("b", "B reads the draft once sent", `<${idA}> draft for bob`)
    await tmux.waitFor("a", "A's line is empty after sending", (screen) => inputLine(screen) === `[@${idB}]` && screen.includes(`<${idA}> draft for bob`))

    // Search in the conversation's history: a popup of matches, newest first; Esc closes it.
    await tmux.line("a", "/search FROM BOB")
    const searched = await tmux.waitFor("a", "the search popup", (screen) => screen.includes('Search "FROM BOB": 1 found') && screen.includes(`<${idB}> hello from bob`))
    // One date format: the timeline's HH:MM after a short day, never a locale's "9:17:18 PM".
    expect(searched).toMatch(new RegExp(` [0-9]{2}:[0-9]{2}  <${idB}> hello from bob`))
    expect(searched).not.toMatch(/[0-9]:[0-9]{2}:[0-9]{2}/)
    await tmux.keys("a", "Escape")
    await tmux.waitFor("a", "the popup is closed", (screen) => !screen.includes('Search "FROM BOB"'))

    // A group: A creates it, B asks to join, A accepts in the popup, both talk in it.
    await tmux.line("a", "/group create team")
    await tmux.waitFor("a", "A leads #team", "you created #team and lead it")
    await tmux.waitFor("b", "B sees #team listed", "#team (1)")
    await tmux.line("b", "/join team")
    await tmux.waitFor("a", "the join popup on A", (screen) => screen.includes(`${idB} asks to join #team`) && screen.includes("[y] accept"))
    await tmux.keys("a", "y")
    await tmux.waitFor("b", "B is let in", `${idA} accepted you into #team`)
    await tmux.line("b", "hi team")
    await tmux.waitFor("a", "A reads the group message", `<${idB}> hi team`)
    await tmux.line("a", "welcome bob")
    await tmux.waitFor("b", "B reads the group message", `<${idA}> welcome bob`)

    // B quits cleanly (exit 0); A sees B offline.
    await tmux.line("b", "/quit")
    await tmux.waitFor("b", "B's client exits with 0", "EXIT=0")
    await tmux.waitFor("a", "A sees B offline", `${idB} is offline`)

    // B comes back with the same profile: same id, the conversation restored as earlier history.
    await launch("b", "bob")
    expect(await idOf("b")).toBe(idB)
    await tmux.waitFor("a", "A sees B online again", `${idB} is online`)
    await tmux.line("b", `/open ${idA}`)
    const restored = await tmux.waitFor("b", "B sees the earlier conversation", (screen) => screen.includes("hello from bob") && screen.includes("earlier: restored from the log"))
    const lines = restored.split("\n")
    const earlierDivider = lines.findIndex((line) => line.includes("earlier: restored from the log"))
    expect(lines.findIndex((line) => line.includes(`<${idA}> hello from alice`))).toBeLessThan(earlierDivider)
    expect(lines.findIndex((line) => line.includes(`<${idB}> hello from bob`))).toBeLessThan(earlierDivider)

    // Ctrl-Q quits too, with exit status 0.
    await tmux.keys("a", "C-q")
    await tmux.waitFor("a", "A's client exits with 0", "EXIT=0")
  })

  it("opens a long conversation at its newest page and pages older messages in with PgUp", async () => {
    const me = "user-10001" as UserId
    const peer = "user-20002" as UserId
    const count = 400
    await writeProfileWithHistory(join(dataDir, "profiles", "pager"), me, peer, count)
    await tmux.newWindow("p", ROOT)
    await launch("p", "pager")
    expect(await idOf("p")).toBe(me)
    await tmux.line("p", `/open ${peer}`)
    const first = await tmux.waitFor("p", "the newest messages", `message ${count - 1}`)
    // Only about two screens were read from the log: the oldest are not there yet.
    expect(first).not.toContain("message 0\n")
    expect(first).not.toContain("start of the conversation")
    // Each PgUp scrolls a screen; at the top the next page is read. Bounded: the history is ~9 screens.
    let screen = first
    for (let press = 0; press < 60 && !screen.includes("start of the conversation"); press++) {
      await tmux.keys("p", "PageUp")
      screen = await tmux.waitFor("p", "the pane after PgUp", () => true)
    }
    screen = await tmux.waitFor("p", "the start of the history", (text) => text.includes("start of the conversation") && /<user-20002> message 0$/m.test(text))
    // Back to the newest with Alt-End; the title said how much was below meanwhile.
    await tmux.keys("p", "M-End")
    await tmux.waitFor("p", "back at the newest message", `message ${count - 1}`)
    await tmux.keys("p", "C-q")
    await tmux.waitFor("p", "the pager client exits", "EXIT=0")
  })
})
