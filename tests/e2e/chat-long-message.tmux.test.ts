/**
 * Long messages and pastes (issue 8): a paste of 5,000 characters used to insert nothing, and a
 * typed line past 4,000 was cut. The paste now goes into the line, and Enter sends it as numbered
 * messages (¹/₂ ²/₂) that the peer receives in order and whole.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { FileEventLog } from "../../adapters/storage/file-event-log.ts"
import { EventLog } from "../../domain/ports/event-log.port.ts"
import { startAedes, type BrokerHandle } from "../support/brokers.ts"
import { CHAT, connectedUserId, ROOT, terminalTestsRun, TmuxServer } from "../support/tmux.ts"

const available = await terminalTestsRun()

/** 5,000 characters of numbered words: "w0000 w0001 …", so a lost or reordered piece shows. */
const PASTE = Array.from({ length: 834 }, (_, i) => `w${String(i).padStart(4, "0")}`).join(" ").slice(0, 5_000)

const receivedTexts = async (profileDir: string): Promise<ReadonlyArray<string>> => {
  const records = await Effect.runPromise(
    Effect.scoped(EventLog.use((log) => Stream.runCollect(log.replay())).pipe(Effect.provide(FileEventLog.layer({ dir: profileDir })))),
  )
  return [...records].flatMap((record) => (record.event._tag === "message.received" ? [record.event.text] : []))
}

describe.skipIf(!available)("a long paste", () => {
  let broker: BrokerHandle
  let tmux: TmuxServer
  let dataDir: string

  beforeAll(async () => {
    broker = await startAedes()
    dataDir = mkdtempSync(join(tmpdir(), "mqtt-chat-long-"))
    tmux = await TmuxServer.start({ width: 140, height: 40 })
  })
  afterAll(async () => {
    await tmux?.kill()
    await broker?.dispose()
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
  })

  const launch = (window: string, profile: string) =>
    tmux.line(window, `clear; ${CHAT} --broker ${broker.url} --data-dir ${dataDir} --profile ${profile}; echo "EXIT=$?"`)

  it("is inserted whole and sent as two numbered messages the peer receives in order", async () => {
    expect(PASTE).toHaveLength(5_000)
    await tmux.newWindow("a", ROOT)
    await tmux.newWindow("b", ROOT)
    await launch("a", "paster")
    await launch("b", "reader")
    const [idA, idB] = await Promise.all([connectedUserId(tmux, "a"), connectedUserId(tmux, "b")])
    await tmux.waitFor("a", "A sees B online", new RegExp(`● ${idB}`))
    await tmux.line("a", `/talk ${idB}`)
    await tmux.waitFor("b", "the popup takes answers", "[y] accept")
    await tmux.keys("b", "y")
    await tmux.waitFor("a", "the conversation is open", `${idB} accepted: conversation open on topic`)

    // A bracketed paste, as a terminal sends one (paste-buffer -p, the chat asked for the mode).
    await tmux.tmux(["set-buffer", "-b", "long", PASTE])
    await tmux.tmux(["paste-buffer", "-p", "-b", "long", "-t", "e2e:a"])
    // The line scrolls to its end: the last words are in view.
    await tmux.waitFor("a", "the paste in the input line", (screen) => (screen.trimEnd().split("\n").pop() ?? "").includes(PASTE.slice(-30)))
    await tmux.keys("a", "Enter")
    // The first part has scrolled out of B's view by then: its log has both (below).
    await tmux.waitFor("b", "the second part on B", (screen) => screen.includes(`<${idA}> ²/₂ `) && screen.includes(PASTE.slice(-12)))
    await tmux.keys("b", "C-q")
    await tmux.waitFor("b", "B exits", "EXIT=0")

    const texts = await receivedTexts(join(dataDir, "profiles", "reader"))
    expect(texts).toHaveLength(2)
    expect(texts[0]?.startsWith("¹/₂ ")).toBe(true)
    expect(texts[1]?.startsWith("²/₂ ")).toBe(true)
    for (const text of texts) expect(text.length).toBeLessThanOrEqual(4_000)
    expect(texts.map((t) => t.slice(4)).join("")).toBe(PASTE)
    await tmux.keys("a", "C-q")
    await tmux.waitFor("a", "A exits", "EXIT=0")
  })
})
