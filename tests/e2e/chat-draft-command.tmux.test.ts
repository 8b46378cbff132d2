/**
 * Commands are never swallowed by a draft (issue 8): a draft restored at start, then `/leave`
 * typed, used to send "half a thought/leave" as a message. A "/" typed first over an earlier draft
 * now starts a command; the draft is set aside and comes back once the command has run.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startAedes, type BrokerHandle } from "../support/brokers.ts"
import { CHAT, connectedUserId, ROOT, terminalTestsRun, TmuxServer } from "../support/tmux.ts"

const available = await terminalTestsRun()

describe.skipIf(!available)("a command typed over a restored draft", () => {
  let broker: BrokerHandle
  let tmux: TmuxServer
  let dataDir: string

  beforeAll(async () => {
    broker = await startAedes()
    dataDir = mkdtempSync(join(tmpdir(), "mqtt-chat-draft-"))
    tmux = await TmuxServer.start({ width: 120, height: 30 })
  })
  afterAll(async () => {
    await tmux?.kill()
    await broker?.dispose()
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
  })

  it("runs: /leave after a restored draft leaves (and so ends) the group, sends nothing, and the draft comes back", async () => {
    const start = `clear; ${CHAT} --broker ${broker.url} --data-dir ${dataDir} --profile drafter; echo "EXIT=$?"`
    await tmux.newWindow("a", ROOT)
    await tmux.line("a", start)
    await connectedUserId(tmux, "a")
    await tmux.line("a", "/group create team")
    await tmux.waitFor("a", "the group", "you created #team")
    await tmux.type("a", "half a thought")
    await tmux.waitFor("a", "the draft in the line", /\[#team\] half a thought/)
    await tmux.keys("a", "C-q")
    await tmux.waitFor("a", "the client exits", "EXIT=0")

    await tmux.line("a", start)
    await connectedUserId(tmux, "a")
    await tmux.waitFor("a", "the draft restored", /\[#team\] half a thought/)
    await tmux.type("a", "/leave")
    await tmux.waitFor("a", "the command alone in the line", /\[#team\] \/leave/)
    await tmux.keys("a", "Enter")
    // Its only member leaving ends the group.
    const after = await tmux.waitFor("a", "left the group", "#team no longer exists")
    expect(after).not.toContain("half a thought/leave")
    expect(after).not.toMatch(/<user-[0-9]+> half a thought/)
    await tmux.waitFor("a", "the draft back in the line", /^\[#team[^\]]*\] half a thought/m)
    await tmux.keys("a", "C-q")
    await tmux.waitFor("a", "the client exits again", "EXIT=0")
  })
})
