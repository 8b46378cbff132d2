/**
 * Requests from ids nobody accepted (validly signed frames, each fake id with keys of its own),
 * arriving together, in a real terminal: one summary popup counts them instead of a popup (and a
 * buffer, and notes) each; F6 lists them all.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import mqtt from "mqtt"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { REQUEST_BURST } from "../../adapters/tui/request-alerts.ts"
import { topics, type MessageId, type UserId } from "../../domain/ids.ts"
import { startAedes, type BrokerHandle } from "../support/brokers.ts"
import { mintFakeIds, signedFrame } from "../support/flood.ts"
import { CHAT, ROOT, STATUS_BAR, terminalTestsRun, TmuxServer } from "../support/tmux.ts"

const available = await terminalTestsRun()
const REQUESTS = 37

describe.skipIf(!available)("requests from strangers in tmux", () => {
  let broker: BrokerHandle
  let tmux: TmuxServer
  let dataDir: string

  beforeAll(async () => {
    broker = await startAedes()
    dataDir = mkdtempSync(join(tmpdir(), "mqtt-chat-e2e-requests-"))
    tmux = await TmuxServer.start({ width: 160, height: 48 })
  })
  afterAll(async () => {
    await tmux?.kill()
    await broker?.dispose()
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
  })

  it(`${REQUESTS} requests at once: one summary, not ${REQUESTS} popups; F6 lists them`, async () => {
    await tmux.newWindow("v", ROOT)
    await tmux.line("v", `clear; ${CHAT} --broker ${broker.url} --data-dir ${dataDir} --profile victim; echo "EXIT=$?"`)
    const screen = await tmux.waitFor("v", "the status bar shows a connected user", STATUS_BAR, 60_000)
    const me = STATUS_BAR.exec(screen)![1] as UserId

    const attacker = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clientId: "attacker-requests", clean: true, reconnectPeriod: 0 })
    // Requests from fake ids, validly signed, each fake id with keys of its own.
    await Promise.all(mintFakeIds(40000, REQUESTS).map((id, i) => {
      const payload = signedFrame(id, topics.control(me), { v: 1, id: `strange${String(i).padStart(9, "0")}` as MessageId, from: id.user, ts: Date.now(), clock: 1, body: { _tag: "chat.request", to: me, attempt: 1, ends: 0 } })
      return attacker.publishAsync(topics.control(me), Buffer.from(payload), { qos: 1 })
    }))
    await attacker.endAsync()

    const summary = await tmux.waitFor("v", "one summary of every request", `${REQUESTS} new requests — F6 to see them`)
    expect(summary).not.toContain("wants a one-to-one conversation with you")
    // No buffer of their own (the side list would fill up) but for the few that came before the
    // burst was one, and the status bar counts them.
    expect(summary.match(/^ *\d+ . @user-4\d{4}/gm)?.length ?? 0).toBeLessThanOrEqual(REQUEST_BURST)
    expect(summary).toContain(`${REQUESTS} requests (F6)`)
    await tmux.waitFor("v", "the summary takes keys", "[F6/Enter] list them")
    await tmux.keys("v", "F6")
    await tmux.waitFor("v", "the list of requests", `Requests received (${REQUESTS})`)
    await tmux.keys("v", "Escape")
    await tmux.waitFor("v", "the list is closed", (text) => !text.includes("Requests received ("))
    // Nothing pops up afterwards one by one either.
    expect(await tmux.capture("v")).not.toContain("wants a one-to-one conversation with you")
    await tmux.keys("v", "C-q")
    await tmux.waitFor("v", "the client exits with 0", "EXIT=0")
  })
})
