/**
 * A line typed while the broker is down (issue 8): it used to look sent. It now ends with ○ until
 * the broker acknowledges its publish (QoS 1 PUBACK), then with ✓ — on a real broker stopped and
 * started again on the same port.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, it } from "vitest"
import { aedesKind, mosquittoKind, type BrokerHandle } from "../support/brokers.ts"
import { CHAT, connectedUserId, ROOT, terminalTestsRun, TmuxServer } from "../support/tmux.ts"

const available = await terminalTestsRun()
const brokerKind = mosquittoKind.skip ? aedesKind : mosquittoKind

describe.skipIf(!available)(`a line typed while the broker is down (${brokerKind.name})`, () => {
  let broker: BrokerHandle
  let tmux: TmuxServer
  let dataDir: string

  beforeAll(async () => {
    broker = await brokerKind.start()
    dataDir = mkdtempSync(join(tmpdir(), "mqtt-chat-pending-"))
    tmux = await TmuxServer.start({ width: 140, height: 36 })
  })
  afterAll(async () => {
    await tmux?.kill()
    await broker?.dispose()
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
  })

  const launch = (window: string, profile: string) =>
    tmux.line(window, `clear; ${CHAT} --broker ${broker.url} --data-dir ${dataDir} --profile ${profile}; echo "EXIT=$?"`)

  it("shows ○ until the broker is back and acknowledges it, then ✓", async () => {
    await tmux.newWindow("a", ROOT)
    await tmux.newWindow("b", ROOT)
    await launch("a", "sender")
    await launch("b", "peer")
    const [idA, idB] = await Promise.all([connectedUserId(tmux, "a"), connectedUserId(tmux, "b")])
    await tmux.waitFor("a", "A sees B online", new RegExp(`● ${idB}`))
    await tmux.line("a", `/talk ${idB}`)
    await tmux.waitFor("b", "the popup takes answers", "[y] accept")
    await tmux.keys("b", "y")
    await tmux.waitFor("a", "the conversation is open", `${idB} accepted: conversation open on topic`)
    await tmux.line("a", "while up")
    await tmux.waitFor("a", "a message the broker has", `<${idA}> while up ✓`)

    await broker.stop()
    await tmux.waitFor("a", "A sees the connection lost", /reconnecting|disconnected/, 30_000)
    await tmux.line("a", "while down")
    await tmux.waitFor("a", "the pending mark", `<${idA}> while down ○`)
    await broker.restart()
    await tmux.waitFor("a", "the sent mark once acknowledged", `<${idA}> while down ✓`, 60_000)
    await tmux.waitFor("b", "B has it", `<${idA}> while down`, 60_000)
    await tmux.keys("a", "C-q")
    await tmux.keys("b", "C-q")
    await tmux.waitFor("a", "A exits", "EXIT=0")
  })
})
