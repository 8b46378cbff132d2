/**
 * A typo in F5 (issue 8, problem 4): `444` used to send a request to user-444, list "? user-444"
 * and leave a day-long waiting conversation. An id nobody has seen is now confirmed first.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startAedes, type BrokerHandle } from "../support/brokers.ts"
import { CHAT, ROOT, STATUS_BAR, terminalTestsRun, TmuxServer } from "../support/tmux.ts"

const available = await terminalTestsRun()

describe.skipIf(!available)("an id nobody has seen", () => {
  let broker: BrokerHandle
  let tmux: TmuxServer
  let dataDir: string

  beforeAll(async () => {
    broker = await startAedes()
    dataDir = mkdtempSync(join(tmpdir(), "mqtt-chat-unknown-"))
    tmux = await TmuxServer.start({ width: 140, height: 40 })
  })
  afterAll(async () => {
    await tmux?.kill()
    await broker?.dispose()
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
  })

  it("is confirmed before a request is sent: n sends nothing, y asks", async () => {
    await tmux.newWindow("a", ROOT)
    await tmux.line("a", `clear; ${CHAT} --broker ${broker.url} --data-dir ${dataDir} --profile typo; echo "EXIT=$?"`)
    await tmux.waitFor("a", "connected", STATUS_BAR, 60_000)
    await tmux.keys("a", "F5")
    await tmux.waitFor("a", "the talk prompt", "user id:")
    await tmux.type("a", "444")
    await tmux.keys("a", "Enter")
    await tmux.waitFor("a", "the confirmation", (screen) => screen.includes("user-444 has never been seen on this broker") && screen.includes("[y] ask anyway"))
    await tmux.keys("a", "n")
    const refused = await tmux.waitFor("a", "nothing asked", "user-444 not asked")
    expect(refused).not.toContain("asked user-444 for a conversation")
    expect(refused).not.toMatch(/\? user-444|… user-444/)
    await tmux.line("a", "/talk 444")
    await tmux.waitFor("a", "the confirmation again", "[y] ask anyway")
    await tmux.keys("a", "y")
    await tmux.waitFor("a", "asked", "asked user-444 for a conversation")
    await tmux.keys("a", "C-q")
    await tmux.waitFor("a", "the client exits", "EXIT=0")
  })
})
