/**
 * /close (issue 8, problem 4): a request sent to a mistyped id used to stay as "? user-444" and a
 * day-long waiting conversation that survived restarts. /close withdraws it, and it is gone from
 * the side list, after a restart too.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startAedes, type BrokerHandle } from "../support/brokers.ts"
import { connectedUserId, ROOT, terminalTestsRun, TmuxServer, TSX } from "../support/tmux.ts"

const available = await terminalTestsRun()

/** The side list is the first 28 columns at this width (a fifth, within its bounds). */
const sideList = (screen: string): string => screen.split("\n").map((row) => row.slice(0, 28)).join("\n")

describe.skipIf(!available)("closing a request to a mistyped id", () => {
  let broker: BrokerHandle
  let tmux: TmuxServer
  let dataDir: string

  beforeAll(async () => {
    broker = await startAedes()
    dataDir = mkdtempSync(join(tmpdir(), "mqtt-chat-close-"))
    tmux = await TmuxServer.start({ width: 140, height: 36 })
  })
  afterAll(async () => {
    await tmux?.kill()
    await broker?.dispose()
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
  })

  it("withdraws it; user-444 leaves the side list and stays gone after a restart", async () => {
    const start = `clear; ${TSX} apps/chat/main.ts --broker ${broker.url} --data-dir ${dataDir} --profile closer; echo "EXIT=$?"`
    await tmux.newWindow("a", ROOT)
    await tmux.line("a", start)
    await connectedUserId(tmux, "a")
    await tmux.keys("a", "F5")
    await tmux.waitFor("a", "the talk prompt", "user id:")
    await tmux.type("a", "444")
    await tmux.keys("a", "Enter")
    await tmux.waitFor("a", "the confirmation", "[y] ask anyway")
    await tmux.keys("a", "y")
    const asked = await tmux.waitFor("a", "asked", "asked user-444 for a conversation")
    expect(sideList(asked)).toContain("user-444")

    await tmux.line("a", "/close")
    const closed = await tmux.waitFor("a", "withdrawn", "request to user-444 withdrawn and closed")
    expect(sideList(closed)).not.toContain("user-444")
    await tmux.keys("a", "C-q")
    await tmux.waitFor("a", "the client exits", "EXIT=0")

    await tmux.line("a", start)
    await connectedUserId(tmux, "a")
    const restarted = await tmux.waitFor("a", "the side list after a restart", (screen) => /Users \d+\/\d+ online/.test(screen))
    expect(restarted).not.toContain("user-444")
    await tmux.keys("a", "F1")
    const users = await tmux.waitFor("a", "the users popup", "Users and groups")
    expect(users).not.toContain("user-444")
    // Ctrl-Q quits from a popup too.
    await tmux.keys("a", "C-q")
    await tmux.waitFor("a", "the client exits again", "EXIT=0")
  })
})
