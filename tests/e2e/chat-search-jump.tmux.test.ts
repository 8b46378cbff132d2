/**
 * /search jumps to the hit (issue 8): the results could only be read. Now ↑/↓ and Enter on one
 * pages the history back to it, scrolls the pane there and highlights it — here a message 300
 * back in a 400-message conversation, far off the first screen.
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

const ME = "user-10001" as UserId
const PEER = "user-20002" as UserId
const COUNT = 400
/** The only messages with the word: 100 and 250 (newest first in the results: 250, then 100). */
const NEEDLES = new Set([100, 250])
const textOf = (n: number) => (NEEDLES.has(n) ? `message ${n} has the needle` : `message ${n}`)

const writeProfile = async (dir: string): Promise<void> => {
  const decode = Schema.decodeUnknownSync(LogEntry)
  const topic = topics.talk(ME, PEER)
  const start = Date.now() - 60 * 60 * 1000
  const entries = [
    decode({ at: start, clock: 1, event: { _tag: "profile.created", user: ME }, out: [] }),
    ...Array.from({ length: COUNT }, (_, n) =>
      decode({ at: start + n * 1000, clock: n + 2, event: { _tag: "message.received", id: `history${String(n).padStart(6, "0")}`, from: PEER, topic, text: textOf(n), sentAt: start + n * 1000, sentClock: n + 2, n: n + 1 }, out: [] }),
    ),
  ]
  await Effect.runPromise(Effect.scoped(EventLog.use((log) => log.append(entries)).pipe(Effect.provide(FileEventLog.layer({ dir })))))
}

describe.skipIf(!available)("/search in a long conversation", () => {
  let broker: BrokerHandle
  let tmux: TmuxServer
  let dataDir: string

  beforeAll(async () => {
    broker = await startAedes()
    dataDir = mkdtempSync(join(tmpdir(), "mqtt-chat-search-"))
    tmux = await TmuxServer.start({ width: 120, height: 30 })
  })
  afterAll(async () => {
    await tmux?.kill()
    await broker?.dispose()
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
  })

  it("selects a hit with ↓ and Enter, and the pane shows it highlighted", async () => {
    await writeProfile(join(dataDir, "profiles", "searcher"))
    await tmux.newWindow("s", ROOT)
    await tmux.line("s", `clear; ${CHAT} --broker ${broker.url} --data-dir ${dataDir} --profile searcher; echo "EXIT=$?"`)
    expect(await connectedUserId(tmux, "s")).toBe(ME)
    await tmux.line("s", `/open ${PEER}`)
    const first = await tmux.waitFor("s", "the newest messages", `message ${COUNT - 1}`)
    expect(first).not.toContain("message 100 has the needle")

    await tmux.line("s", "/search needle")
    await tmux.waitFor("s", "both hits listed", (screen) => screen.includes('Search "needle": 2 found') && screen.includes("message 100 has the needle"))
    // The newest hit is selected first: ↓ picks the older one, out of the loaded pages.
    await tmux.keys("s", "Down")
    await tmux.keys("s", "Enter")
    const jumped = await tmux.waitFor("s", "the pane at the hit", (screen) => !screen.includes("Search \"needle\"") && screen.includes("<user-20002> message 100 has the needle"))
    expect(jumped).not.toContain(`message ${COUNT - 1}\n`)
    // Highlighted: drawn in inverse video.
    const styled = await tmux.captureStyled("s")
    const row = styled.split("\n").find((line) => line.includes("message 100 has the needle")) ?? ""
    expect(row).toMatch(/\u001b\[[0-9;]*7m/)
    // The title says how much is below; Alt-End goes back to the newest.
    expect(jumped).toMatch(/↓ \d+ more lines?\b/)
    await tmux.keys("s", "M-End")
    await tmux.waitFor("s", "back at the newest", `message ${COUNT - 1}`)
    await tmux.keys("s", "C-q")
    await tmux.waitFor("s", "the client exits", "EXIT=0")
  })
})
