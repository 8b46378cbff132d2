/**
 * The terminal bell: a request or a message arriving in a conversation that is not on screen rings
 * it (BEL), which tmux turns into the window's bell flag; /bell off silences it, and my own
 * messages never ring. The conversation on screen rings only while the terminal reports that it
 * does not have the focus. Both chat windows are in the background of the tmux session (the idle
 * window is the current one), so tmux flags every BEL they write.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startAedes, type BrokerHandle } from "../support/brokers.ts"
import { chatCommand, connectedUserId, ROOT, terminalTestsRun, TmuxServer } from "../support/tmux.ts"

const available = await terminalTestsRun()

/** The side list is the first 28 columns at this width. */
const sideList = (screen: string): string => screen.split("\n").map((row) => row.slice(0, 28)).join("\n")

describe.skipIf(!available)("the terminal bell", () => {
  let broker: BrokerHandle
  let tmux: TmuxServer
  let dataDir: string

  beforeAll(async () => {
    broker = await startAedes()
    dataDir = mkdtempSync(join(tmpdir(), "mqtt-chat-bell-"))
    tmux = await TmuxServer.start({ width: 140, height: 36 })
  })
  afterAll(async () => {
    await tmux?.kill()
    await broker?.dispose()
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
  })

  const launch = (window: string, profile: string) =>
    tmux.line(window, `clear; ${chatCommand(`--broker ${broker.url} --data-dir ${dataDir} --profile ${profile}`)}; echo "EXIT=$?"`)
  const bellFlag = async (window: string): Promise<string> => (await tmux.tmux(["display-message", "-p", "-t", `e2e:${window}`, "#{window_bell_flag}"])).trim()
  /** Selecting a window clears its flags; the idle window is made current again. */
  const clearBell = async (window: string): Promise<void> => {
    await tmux.tmux(["select-window", "-t", `e2e:${window}`])
    await tmux.tmux(["select-window", "-t", "e2e:idle"])
    expect(await bellFlag(window)).toBe("0")
  }

  it("rings for a request and a message in another buffer, not with /bell off, never for my own", async () => {
    await tmux.newWindow("a", ROOT)
    await tmux.newWindow("b", ROOT)
    await launch("a", "caller")
    await launch("b", "callee")
    const [idA, idB] = await Promise.all([connectedUserId(tmux, "a"), connectedUserId(tmux, "b")])
    await tmux.waitFor("a", "A sees B online", new RegExp(`● ${idB}`))
    expect(await bellFlag("b")).toBe("0")

    await tmux.line("a", `/talk ${idB}`)
    await tmux.waitFor("b", "the request popup on B", "[y] accept")
    expect(await bellFlag("b")).toBe("1")
    await tmux.keys("b", "y")
    await tmux.waitFor("a", "the conversation is open", `${idB} accepted: conversation open on topic`)

    // B looks at its status buffer, with the bell off.
    await tmux.line("b", "/open status")
    await tmux.line("b", "/bell off")
    await tmux.waitFor("b", "the bell is off", "the bell is off")
    await clearBell("b")
    await tmux.line("a", "first, while the bell is off")
    await tmux.waitFor("b", "one unread message from A", (screen) => new RegExp(`@${idA} 1\\b`).test(sideList(screen)))
    expect(await bellFlag("b")).toBe("0")

    await tmux.line("b", "/bell on")
    await tmux.waitFor("b", "the bell is on", "the bell rings when a message")
    await tmux.line("a", "second, with the bell on")
    await tmux.waitFor("b", "two unread messages from A", (screen) => new RegExp(`@${idA} 2\\b`).test(sideList(screen)))
    expect(await bellFlag("b")).toBe("1")

    // A only sent: its own messages and B's acceptance never rang.
    await tmux.waitFor("a", "A's second message is acknowledged", `<${idA}> second, with the bell on ✓`)
    expect(await bellFlag("a")).toBe("0")

    // /bell off is saved: after a restart a message in another buffer still does not ring.
    await tmux.line("b", "/bell off")
    await tmux.waitFor("b", "the bell is off again", "the bell is off")
    await tmux.keys("b", "C-q")
    await tmux.waitFor("b", "B exits", "EXIT=0")
    await launch("b", "callee")
    await connectedUserId(tmux, "b")
    await tmux.line("b", "/open status")
    await clearBell("b")
    await tmux.line("a", "third, after B's restart")
    await tmux.waitFor("b", "three unread messages from A", (screen) => new RegExp(`@${idA} 3\\b`).test(sideList(screen)))
    expect(await bellFlag("b")).toBe("0")

    // The conversation on screen: no bell while the terminal has the focus, a bell once it reports
    // it lost it (DEC 1004, as a terminal sends it: ESC [ O), and the report is not typed into the line.
    await tmux.line("b", "/bell on")
    await tmux.line("b", `/open @${idA}`)
    await tmux.waitFor("b", "B shows A's conversation", `<${idA}> third, after B's restart`)
    await clearBell("b")
    await tmux.line("a", "fourth, B looks at it")
    await tmux.waitFor("b", "B shows the fourth", `<${idA}> fourth, B looks at it`)
    expect(await bellFlag("b")).toBe("0")
    await tmux.tmux(["send-keys", "-t", "e2e:b", "-H", "1b", "5b", "4f"])
    await tmux.line("a", "fifth, B is away")
    await tmux.waitFor("b", "B shows the fifth", `<${idA}> fifth, B is away`)
    expect(await bellFlag("b")).toBe("1")
    expect((await tmux.capture("b")).trimEnd().split("\n").at(-1)?.trimEnd()).toBe(`[@${idA}]`)
    await tmux.keys("a", "C-q")
    await tmux.keys("b", "C-q")
    await tmux.waitFor("a", "A exits", "EXIT=0")
  })
})
