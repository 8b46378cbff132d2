/**
 * Issue 7's poisoned numbers against the real broker, published as an attacker would, with the C
 * client (`mosquitto_pub`) on the shipped Mosquitto config and ACL: a Lamport clock of 2^53 - 2 in a
 * retained presence and in a request, a ts no Date can hold, an erased retained group. Then the
 * profile is restarted: it opens and works. And a log written before the bounds existed, holding
 * such numbers, opens and talks to a peer that runs the bounds.
 */
import { spawn } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Exit, Layer, Option, Scope } from "effect"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { FileEventLog } from "../../adapters/storage/file-event-log.ts"
import { IDENTITY_FILE, loadIdentityFile } from "../../adapters/storage/identity-file.ts"
import { restoreIdentity } from "../../domain/trust/identity.ts"
import { makeForger, makeSigner } from "../support/forger.ts"
import { ChatBuffer } from "../../adapters/tui/chat-buffer.ts"
import { renderTimeline } from "../../adapters/tui/timeline.ts"
import type { LogEntry } from "../../domain/events.ts"
import { topics, type MessageId, type UserId } from "../../domain/ids.ts"
import { EventLog } from "../../domain/ports/event-log.port.ts"
import { clockCeiling } from "../../domain/wire/limits.ts"
import { mosquittoKind, type BrokerHandle } from "../support/brokers.ts"
import { eventually, fileProfile, mqttTransportTo, startUser, type RunningUser } from "../support/chat-user.ts"

const TIMEOUT = 20_000
const POISON = 9007199254740990

describe.skipIf(mosquittoKind.skip)("poisoned numbers on Mosquitto", () => {
  let broker: BrokerHandle
  let root: string
  let profiles = 0
  const running: RunningUser[] = []

  beforeAll(async () => {
    broker = await mosquittoKind.start({ acl: true })
    root = await mkdtemp(join(tmpdir(), "mqtt-chat-poison-"))
  })
  afterEach(async () => {
    await Promise.all(running.splice(0).map((u) => u.stop().catch(() => undefined)))
  })
  afterAll(async () => {
    await broker?.dispose()
    await rm(root, { recursive: true, force: true })
  })

  const newDir = () => join(root, `profile-${++profiles}`)
  const start = async (dir: string) => {
    const user = await startUser({
      ...fileProfile(dir),
      transport: mqttTransportTo(broker.url),
    })
    running.push(user)
    return user
  }
  const stop = async (user: RunningUser) => {
    running.splice(running.indexOf(user), 1)
    await user.stop()
  }
  /** mosquitto_pub, the way an attacker publishes: any client id, raw bytes, optionally retained. */
  const pub = (topic: string, message: string | null, options: { readonly clientId?: string; readonly retain?: boolean } = {}) =>
    new Promise<void>((resolve, reject) => {
      const args = ["-h", "127.0.0.1", "-p", String(broker.port), "-q", "1", "-t", topic, ...(options.retain ? ["-r"] : []), ...(options.clientId ? ["-i", options.clientId] : [])]
      const child = spawn("mosquitto_pub", [...args, ...(message === null ? ["-n"] : ["-m", message])], { stdio: ["ignore", "ignore", "pipe"] })
      let err = ""
      child.stderr.on("data", (chunk: Buffer) => { err += chunk.toString() })
      child.on("error", reject)
      child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`mosquitto_pub exited ${code}: ${err}`))))
    })
  let ids = 0
  const envelope = (from: string, body: unknown, fields: Record<string, unknown> = {}) =>
    JSON.stringify({ v: 1, id: `poison${String(ids++).padStart(8, "0")}`, from, ts: Date.now(), clock: 7, body, ...fields })
  /** What a user with real keys (a malicious peer, or a stranger with keys of its own) can publish: signed frames. */
  const signerOf = async (dir: string) => makeSigner(restoreIdentity(Option.getOrThrow(await Effect.runPromise(loadIdentityFile(join(dir, IDENTITY_FILE)))))!)
  const stranger = makeForger("user-66666")
  const peer = (u: RunningUser) => ({ _tag: "peer" as const, peer: u.service.me })
  const texts = async (u: RunningUser, other: RunningUser) => (await u.run(u.service.history(peer(other), { limit: 100 }))).messages.map((m) => m.text)
  const talk = async (a: RunningUser, b: RunningUser) => {
    await a.run(a.service.startConversation(b.service.me))
    await eventually("B has the request", async () => (await b.run(b.service.requests())).some((r) => r.from === a.service.me && r.status === "pending"), TIMEOUT)
    await b.run(b.service.acceptConversation(a.service.me))
    await eventually("A is active", async () => (await a.run(a.service.listUsers())).find((u) => u.user === b.service.me)?.conversation === "active", TIMEOUT)
  }
  const renders = async (u: RunningUser, other: RunningUser) => {
    const page = await u.run(u.service.history(peer(other), { limit: 100 }))
    const buffer = new ChatBuffer(`@${other.service.me}`, { kind: "peer", user: other.service.me }, 0)
    buffer.mergePage(page.messages, page.hasMore, false)
    return renderTimeline(buffer, u.service.me)
  }

  it("a poisoned retained presence, a poisoned request, a poisoned ts, an erased group: dropped; after a restart the profile opens and works", async () => {
    // A retained presence with clock 2^53 - 2, published under its own client id (the ACL allows
    // exactly that), waiting for everyone who connects later.
    const presenceTopic = topics.presence("user-66666" as UserId)
    await pub(presenceTopic, stranger.frameText(presenceTopic, envelope("user-66666", { _tag: "presence", status: "online", session: 1, connection: 1 }, { clock: POISON })), { clientId: "user-66666", retain: true })
    const dirA = newDir()
    let a = await start(dirA)
    const dirB = newDir()
    const b = await start(dirB)
    // B turns hostile: everything it sends below is signed with its real keys.
    const signedByB = await signerOf(dirB)
    const keysOfA = (await a.run(a.service.whois(a.service.me))).keys!
    const fromB = (topic: string, message: string) => signedByB.frameText(topic, signedByB.sealChatText(topic, message, keysOfA))
    // A sees B, who connected after it: by then the retained copies delivered at A's subscription were handled.
    await eventually("A sees B online", async () => (await a.run(a.service.listUsers())).find((u) => u.user === b.service.me)?.status === "online", TIMEOUT)
    expect((await a.run(a.service.state)).presence.get("user-66666")).toBeUndefined()
    expect((await a.run(a.service.stats)).dropped).toBeGreaterThan(0)
    await talk(a, b)
    await a.run(a.service.createGroup("club"))
    await eventually("B sees club", async () => (await b.run(b.service.listGroups())).some((g) => g.name === "club"), TIMEOUT)

    const talkTopic = topics.talk(a.service.me, b.service.me)
    await pub(topics.control(a.service.me), fromB(topics.control(a.service.me), envelope(b.service.me, { _tag: "chat.request", to: a.service.me, attempt: 2, ends: 0 }, { clock: POISON })))
    await pub(talkTopic, fromB(talkTopic, envelope(b.service.me, { _tag: "chat.message", text: "boom", n: 1 }, { ts: 9007199254740991 })))
    await pub(talkTopic, fromB(talkTopic, envelope(b.service.me, { _tag: "chat.message", text: "from next year", n: 1 }, { ts: Date.now() + 365 * 86_400_000 })))
    await pub(topics.groupInfo("club" as never), null, { retain: true })
    await eventually("A dropped the request and the bad ts", () => {
      const reasons = a.notices.flatMap((n) => (n._tag === "dropped" ? [n.reason] : []))
      return reasons.some((r) => /got 9007199254740990\s+at \["clock"\]/.test(r)) && reasons.some((r) => /got 9007199254740991\s+at \["ts"\]/.test(r))
    }, TIMEOUT)
    await eventually("the text from next year is shown at its arrival", async () => (await texts(a, b)).includes("from next year"), TIMEOUT)
    const shown = (await a.run(a.service.history(peer(b), { limit: 10 }))).messages.find((m) => m.text === "from next year")!
    expect(shown.at).toBeLessThanOrEqual(Date.now())
    // The group survives the erasure: a user who connects afterwards sees it (the leader restored it).
    const c = await start(newDir())
    await eventually("a later user sees club", async () => (await c.run(c.service.listGroups())).some((g) => g.name === "club"), TIMEOUT)

    // Restart: the profile opens, its clock is sane, and it works both ways.
    await stop(a)
    a = await start(dirA)
    expect((await a.run(a.service.state)).clock).toBeLessThan(clockCeiling(Date.now()))
    await a.run(a.service.send(peer(b), "after the restart"))
    await eventually("B got it", async () => (await texts(b, a)).includes("after the restart"), TIMEOUT)
    await b.run(b.service.send(peer(a), "and back"))
    await eventually("A got it", async () => (await texts(a, b)).includes("and back"), TIMEOUT)
    expect((await renders(a, b)).some((line) => line.includes("and back"))).toBe(true)
  })

  it("a log written before the bounds, holding a clock and a ts near 2^53, opens, talks, and renders", async () => {
    const b = await start(newDir())
    const dirA = newDir()
    const me = "user-42424" as UserId
    const now = Date.now()
    const old: LogEntry[] = [
      { at: now - 2000, clock: 1, event: { _tag: "profile.created", user: me }, out: [] },
      { at: now - 1900, clock: 2, event: { _tag: "session.started", session: 1 }, out: [] },
      { at: now - 1800, clock: 3, event: { _tag: "conversation.request.sent", peer: b.service.me }, out: [] },
      {
        at: now - 1700, clock: 9007199254740991, out: [],
        event: { _tag: "conversation.stance.received", peer: b.service.me, kind: "accept", attempt: 1, refuses: null, requestId: "oldpoison001" as MessageId, reason: "" },
      },
      {
        at: now - 1600, clock: 9007199254740991, out: [],
        event: { _tag: "message.received", id: "oldpoison002" as MessageId, from: b.service.me, topic: topics.talk(me, b.service.me), text: "from the old days", sentAt: 9007199254740991, sentClock: 9007199254740990, n: 1 },
      },
    ]
    await appendRaw(dirA, old)
    const a = await start(dirA)
    expect(a.service.me).toBe(me)
    expect((await a.run(a.service.state)).clock).toBeLessThanOrEqual(clockCeiling(Date.now()))
    expect((await renders(a, b)).some((line) => line.includes("from the old days"))).toBe(true)
    // Its messages carry a clock every receiver accepts: B, who never heard of A, takes its request.
    await a.run(a.service.leaveConversation(b.service.me)).catch(() => undefined)
    await a.run(a.service.startConversation(b.service.me))
    await eventually("B has A's request", async () => (await b.run(b.service.requests())).some((r) => r.from === me && r.status === "pending"), TIMEOUT)
    await b.run(b.service.acceptConversation(me))
    await eventually("A is active", async () => (await a.run(a.service.listUsers())).find((u) => u.user === b.service.me)?.conversation === "active", TIMEOUT)
    await a.run(a.service.send(peer(b), "still talking"))
    await eventually("B got it", async () => (await texts(b, a)).includes("still talking"), TIMEOUT)
  })
})

/** Appends entries as an older version of the program would have: through the real file log. */
async function appendRaw(dir: string, entries: ReadonlyArray<LogEntry>): Promise<void> {
  const scope = await Effect.runPromise(Scope.make())
  try {
    const context = await Effect.runPromise(Layer.buildWithScope(FileEventLog.layer({ dir }), scope))
    await Effect.runPromise(Context.get(context, EventLog).append(entries))
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}
