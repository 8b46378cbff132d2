/**
 * The whole protocol end to end through real brokers: the ChatService on the MQTT.js transport and
 * the file log, against Mosquitto and the embedded aedes (the same suite on both).
 */
import { spawn, type ChildProcess } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import mqtt from "mqtt"
import { knownUserIds, MqttUserDirectory } from "../../adapters/mqtt/user-directory.ts"
import { FileIdentityStore } from "../../adapters/storage/identity-file.ts"
import { FileEventLog } from "../../adapters/storage/file-event-log.ts"
import { replay, stateToJson } from "../../domain/chat/chat-state.ts"
import type { GroupName, UserId } from "../../domain/ids.ts"
import type { LogRecord } from "../../domain/events.ts"
import { Effect, Stream, Layer, Context, Scope, Exit } from "effect"
import { EventLog } from "../../domain/ports/event-log.port.ts"
import type { BrokerHandle, BrokerKind } from "../support/brokers.ts"
import { eventually, fileProfile, mqttTransportTo, startUser, type RunningUser } from "../support/chat-user.ts"
import { fiveMenuFunctions } from "../support/scenarios.ts"
import { countingCrypto } from "../support/counting-crypto.ts"
import type { Crypto } from "../../domain/ports/crypto.port.ts"

const TIMEOUT = 20_000

export function chatSuite(kind: BrokerKind): void {
  describe.skipIf(kind.skip)(`chat over ${kind.name}`, () => {
    let broker: BrokerHandle
    let root: string
    const running: RunningUser[] = []
    const children: ChildProcess[] = []
    let profiles = 0

    beforeAll(async () => {
      broker = await kind.start({ acl: true })
      root = await mkdtemp(join(tmpdir(), `mqtt-chat-${kind.name}-`))
    })
    afterEach(async () => {
      await Promise.all(running.splice(0).map((u) => u.stop().catch(() => undefined)))
      for (const child of children.splice(0)) child.kill("SIGKILL")
    })
    afterAll(async () => {
      await broker?.dispose()
      await rm(root, { recursive: true, force: true })
    })

    const newProfileDir = () => join(root, `profile-${++profiles}`)
    const start = async (dir: string, crypto?: Layer.Layer<Crypto>) => {
      const user = await startUser({
        ...fileProfile(dir),
        ...(crypto === undefined ? {} : { crypto }),
        transport: mqttTransportTo(broker.url),
      })
      running.push(user)
      return user
    }
    const stop = async (user: RunningUser) => {
      running.splice(running.indexOf(user), 1)
      await user.stop()
    }
    const peer = (u: RunningUser) => ({ _tag: "peer" as const, peer: u.service.me })
    const talk = async (a: RunningUser, b: RunningUser) => {
      await a.run(a.service.startConversation(b.service.me))
      await eventually("B has the request", async () => (await b.run(b.service.requests())).some((r) => r.from === a.service.me && r.status === "pending"), TIMEOUT)
      await b.run(b.service.acceptConversation(a.service.me))
      await eventually("A is active", async () => (await a.run(a.service.listUsers())).find((u) => u.user === b.service.me)?.conversation === "active", TIMEOUT)
    }
    const texts = async (u: RunningUser, other: RunningUser, limit = 1000) =>
      (await u.run(u.service.history(peer(other), { limit }))).messages.map((m) => m.text)

    it("a sender's own messages come back from the broker and are ignored without a signature check", async () => {
      const checks = { verifies: 0 }
      const [a, b] = [await start(newProfileDir(), countingCrypto(checks)), await start(newProfileDir())]
      await talk(a, b)
      const before = { verifies: checks.verifies, ignored: (await a.run(a.service.stats)).ignored }
      const MESSAGES = 20
      for (let n = 0; n < MESSAGES; n++) await a.run(a.service.send(peer(b), `echo ${n}`))
      await eventually("B has them all", async () => (await texts(b, a)).filter((text) => text.startsWith("echo ")).length === MESSAGES, TIMEOUT)
      await eventually("A saw its echoes", async () => (await a.run(a.service.stats)).ignored - before.ignored >= MESSAGES, TIMEOUT)
      // B's frames (if any) are checked; A's 20 echoes are not.
      expect(checks.verifies - before.verifies).toBeLessThan(MESSAGES / 4)
    })

    it("three users do the design note's five menu functions", async () => {
      const [a, b, c] = [await start(newProfileDir()), await start(newProfileDir()), await start(newProfileDir())]
      await fiveMenuFunctions(a, b, c, TIMEOUT)
    })

    it("a conversation re-established after a restart shows its history, and the state is the replay of the log", async () => {
      const dirB = newProfileDir()
      const a = await start(newProfileDir())
      let b = await start(dirB)
      const idB = b.service.me
      await talk(a, b)
      await a.run(a.service.send(peer(b), "before restart 1"))
      await eventually("B has the first", async () => (await texts(b, a)).length === 1, TIMEOUT)
      await b.run(b.service.send(peer(a), "before restart 2"))
      await eventually("B has both", async () => (await texts(b, a)).length === 2, TIMEOUT)
      await stop(b)
      b = await start(dirB)
      expect(b.service.me).toBe(idB)
      expect(await texts(b, a)).toEqual(["before restart 1", "before restart 2"])
      expect((await b.run(b.service.listUsers())).find((u) => u.user === a.service.me)?.conversation).toBe("active")
      // Leave and re-establish: the earlier history is still there.
      await b.run(b.service.leaveConversation(a.service.me))
      await eventually("A sees the leave", async () => (await a.run(a.service.listUsers())).find((u) => u.user === idB)?.conversation === "closed", TIMEOUT)
      await talk(a, b)
      await a.run(a.service.send(peer(b), "after re-establishing"))
      await eventually("B has all three", async () => (await texts(b, a)).length === 3, TIMEOUT)
      expect(await texts(b, a)).toEqual(["before restart 1", "before restart 2", "after re-establishing"])
      // The live state equals the fold of the stored log.
      // (A snapshot now: the outbox and seen-set inside the state move on with later records.)
      const state = stateToJson(await b.run(b.service.state))
      await stop(b)
      const records = await readLog(dirB)
      // (Stopping appended more records: acknowledgements and the session's end.)
      expect(stateToJson(replay(records.filter((r) => r.seq <= state.lastSeq)))).toEqual(state)
    })

    it("a message sent to an offline user is delivered when they come back; a join request waits for an offline leader", async () => {
      const dirB = newProfileDir()
      const dirA = newProfileDir()
      let a = await start(dirA)
      let b = await start(dirB)
      const c = await start(newProfileDir())
      await talk(a, b)
      await stop(b)
      await eventually("A sees B offline", async () => (await a.run(a.service.listUsers())).find((u) => u.user === b.service.me)?.status === "offline", TIMEOUT)
      await a.run(a.service.send(peer(b), "while you were away"))
      b = await start(dirB)
      await eventually("B gets the queued message", async () => (await texts(b, a)).includes("while you were away"), TIMEOUT)

      await a.run(a.service.createGroup("club"))
      await eventually("C sees club", async () => (await c.run(c.service.listGroups())).some((g) => g.name === "club"), TIMEOUT)
      await stop(a)
      await eventually("C sees A offline", async () => (await c.run(c.service.listUsers())).find((u) => u.user === a.service.me)?.status === "offline", TIMEOUT)
      await c.run(c.service.joinGroup("club"))
      a = await start(dirA)
      await eventually("A has C's join request", async () => ((await a.run(a.service.listGroups())).find((g) => g.name === "club")?.pending ?? []).includes(c.service.me), TIMEOUT)
      await a.run(a.service.acceptJoin("club", c.service.me))
      await eventually("C is a member", async () => (await c.run(c.service.listGroups())).find((g) => g.name === "club")?.me === "member", TIMEOUT)
    })

    it("the user directory knows every id that ever connected, so a new profile draws a free one", async () => {
      const a = await start(newProfileDir())
      await eventually("A's retained presence is listed", async () => (await knownUserIds({ url: broker.url })).has(a.service.me), TIMEOUT)
      await stop(a)
      // Offline users keep their id: their retained presence says offline, but it is there.
      expect((await knownUserIds({ url: broker.url })).has(a.service.me)).toBe(true)
      const b = await startUser({
        ...((dir) => ({ log: FileEventLog.layer({ dir }), identities: FileIdentityStore.layer({ dir }) }))(newProfileDir()),
        directory: MqttUserDirectory.layer({ url: broker.url }),
        transport: mqttTransportTo(broker.url),
      })
      running.push(b)
      expect(b.service.me).not.toBe(a.service.me)
    })

    it("a message stored while the broker was down is sent after the sender restarts (the log is the outbox)", async () => {
      const dirA = newProfileDir()
      let a = await start(dirA)
      const b = await start(newProfileDir())
      await talk(a, b)
      await broker.stop()
      await a.run(a.service.send(peer(b), "stored while the broker was down"))
      expect((await a.run(a.service.state)).outbox.size).toBeGreaterThan(0)
      // The sender quits before the broker ever acknowledged it: only its log still has the message.
      await stop(a)
      await broker.restart()
      a = await start(dirA)
      await eventually("B gets it once", async () => (await texts(b, a)).includes("stored while the broker was down"), 30_000)
      await eventually("A's outbox empties", async () => (await a.run(a.service.state)).outbox.size === 0, 10_000)
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect((await texts(b, a)).filter((t) => t === "stored while the broker was down")).toHaveLength(1)
    })

    it("kill -9 of a client: the others see it offline (Last Will)", async () => {
      const a = await start(newProfileDir())
      const child = spawn(process.execPath, ["--import", "tsx", "tests/support/chat-child.ts", broker.url, newProfileDir()], { stdio: ["ignore", "pipe", "pipe"] })
      children.push(child)
      const childId = await new Promise<string>((resolve, reject) => {
        let out = ""
        const timer = setTimeout(() => reject(new Error(`child did not start: ${out}`)), TIMEOUT)
        child.stdout!.on("data", (chunk: Buffer) => {
          out += chunk.toString()
          const match = /READY (user-\d+)/.exec(out)
          if (match) {
            clearTimeout(timer)
            resolve(match[1]!)
          }
        })
        child.stderr!.on("data", (chunk: Buffer) => { out += chunk.toString() })
      })
      await eventually("A sees the child online", async () => (await a.run(a.service.listUsers())).find((u) => u.user === childId)?.status === "online", TIMEOUT)
      child.kill("SIGKILL")
      await eventually("A sees the child offline", async () => (await a.run(a.service.listUsers())).find((u) => u.user === childId)?.status === "offline", TIMEOUT)
    })

    it("the broker restarted mid-conversation: clients reconnect and no message is lost", async () => {
      const a = await start(newProfileDir())
      const dirB = newProfileDir()
      const b = await start(dirB)
      await talk(a, b)
      const sent: string[] = []
      for (let i = 0; i < 50; i++) {
        const text = `before ${i}`
        sent.push(text)
        await a.run(a.service.send(peer(b), text))
      }
      await broker.restart()
      for (let i = 0; i < 50; i++) {
        const text = `after ${i}`
        sent.push(text)
        await a.run(a.service.send(peer(b), text))
      }
      await eventually("B has all 100", async () => (await texts(b, a)).length >= 100, 30_000).catch(async (error) => {
        const got = await texts(b, a)
        const sb = await b.run(b.service.state)
        const sa = await a.run(a.service.state)
        console.log("diagnostics: missing", sent.filter((t) => !got.includes(t)), "inbound", JSON.stringify(sb.inbound).slice(0, 600), "A outbox", sa.outbox.size, JSON.stringify(await a.run(a.service.stats)), JSON.stringify(await b.run(b.service.stats)))
        console.log("diagnostics: notices of A", JSON.stringify(a.notices.filter((n) => n._tag !== "changed" && n._tag !== "message").slice(-8)))
        console.log("diagnostics: notices of B", JSON.stringify(b.notices.filter((n) => n._tag !== "changed" && n._tag !== "message").slice(-8)))
        await stop(b)
        const recs = await readLog(dirB)
        console.log("diagnostics: B log", recs.filter((r) => r.event._tag.startsWith("message")).map((r) => `${r.seq}:${r.event._tag.slice(8)}:${"n" in r.event ? r.event.n : ""}`).join(" "))
        throw error
      })
      const received = await texts(b, a)
      expect(received).toEqual(sent)
    })

    it("10,000 messages through one conversation: each shown exactly once, in the sender's order", { timeout: 240_000 }, async () => {
      const a = await start(newProfileDir())
      const b = await start(newProfileDir())
      await talk(a, b)
      const COUNT = 10_000
      // Sends are queued together: the decision loop stores them in batches.
      const sends: Array<Promise<unknown>> = []
      for (let i = 0; i < COUNT; i++) sends.push(a.run(a.service.send(peer(b), `m${i}`)))
      await Promise.all(sends)
      await eventually("B has 10,000", async () => {
        const topicsOfB = (await b.run(b.service.state)).topics
        return [...topicsOfB.values()].some((t) => t.messages === COUNT)
      }, 200_000)
      const seen: string[] = []
      let beforeSeq: number | undefined
      for (let page = 0; page < 20; page++) {
        const found = await b.run(b.service.history(peer(a), { limit: 1000, ...(beforeSeq === undefined ? {} : { beforeSeq }) }))
        seen.unshift(...found.messages.map((m) => m.text))
        if (!found.hasMore) break
        beforeSeq = found.messages[0]!.seq
      }
      expect(seen.length).toBe(COUNT)
      expect(new Set(seen).size).toBe(COUNT)
      expect(seen).toEqual(Array.from({ length: COUNT }, (_, i) => `m${i}`))
    })

    it("malformed, oversize, wrongly typed and spoofed payloads on every topic: the app stays up and its state does not change", async () => {
      const a = await start(newProfileDir())
      const b = await start(newProfileDir())
      await talk(a, b)
      await a.run(a.service.createGroup("safe"))
      await eventually("B sees safe", async () => (await b.run(b.service.listGroups())).some((g) => g.name === "safe"), TIMEOUT)
      const idA = a.service.me
      const idB = b.service.me
      const before = stateToJson(await a.run(a.service.state))
      const statsBefore = await a.run(a.service.stats)
      const topicsOfA = [
        `${idA}_control`, "global_control", "global_control/groups/safe",
        `${[idA, idB].map((x) => Number(x.slice(5))).sort((x, y) => x - y).join("_")}_talk`, "group_safe_talk",
      ]
      const attacker = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clientId: "user-66666", clean: true })
      const envelope = (body: unknown, from = "user-66666", extra: Record<string, unknown> = {}) =>
        JSON.stringify({ v: 1, id: `evil${Math.random().toString(36).slice(2, 14)}`, from, ts: 1, clock: 1_000_000, body, ...extra })
      const payloads: Array<string | Buffer> = [
        "not json", "{", "[]", "null", '{"v":1}', '{"v":2,"id":"x"}', "\u0000\u0001", Buffer.from([0xff, 0xfe, 0x00]),
        "x".repeat(20 * 1024), JSON.stringify({ __proto__: { polluted: true }, v: 1 }),
        envelope({ _tag: "chat.request", to: idA, attempt: "one" }),
        envelope({ _tag: "nonsense" }),
        envelope({ _tag: "chat.message", text: "\u001b]0;pwned\u0007\u001b[2J", n: 1 }, idB),
        envelope({ _tag: "group.info", info: { name: "safe", leader: "user-66666", members: ["user-66666"], version: 99, foundedClock: 0, foundedBy: "user-66666", dissolved: false } }),
        envelope({ _tag: "group.info", info: { name: "safe", leader: idA, members: [idA, "user-66666"], version: 99, foundedClock: 0, foundedBy: idA, dissolved: false } }, idB),
        envelope({ _tag: "chat.accept", to: idB, attempt: 5, topic: "1_2_talk" }, idB),
        envelope({ _tag: "presence", status: "offline", session: 999, connection: 1 }, idB),
        envelope({ _tag: "group.message", group: "safe", text: "I am not a member", n: 1 }),
        envelope({ _tag: "chat.request", to: idA, attempt: 1, ends: 0 }, idA),
      ]
      for (const topic of topicsOfA) {
        for (const payload of payloads) await attacker.publishAsync(topic, payload, { qos: 1 })
      }
      // The raw C client too, on the control topic.
      await new Promise<void>((resolve) => {
        const pub = spawn("mosquitto_pub", ["-h", "127.0.0.1", "-p", String(broker.port), "-q", "1", "-t", `${idA}_control`, "-m", "{\"v\":1,\"body\":{\"_tag\":\"chat.leave\"}}"])
        pub.on("error", () => resolve())
        pub.on("exit", () => resolve())
      })
      await attacker.endAsync()
      // Another user's presence topic: the broker refuses the write (Mosquitto acknowledges and
      // drops it, aedes disconnects the offender), so a fire-and-forget client tries.
      const forger = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clientId: "user-77777", clean: true, reconnectPeriod: 0 })
      forger.on("error", () => undefined)
      for (const target of [idA, idB]) {
        forger.publish(`global_control/presence/${target}`, envelope({ _tag: "presence", status: "offline", session: 999, connection: 1 }, target), { qos: 0, retain: true })
        forger.publish(`global_control/presence/${target}`, "garbage", { qos: 0, retain: true })
      }
      await new Promise((resolve) => setTimeout(resolve, 300))
      forger.end(true)
      await eventually("A handled every payload", async () => (await a.run(a.service.stats)).received - statsBefore.received >= topicsOfA.length * 2, TIMEOUT)
      // A still works: a genuine message goes through.
      await b.run(b.service.send(peer(a), "still here?"))
      await eventually("A got the genuine message", async () => (await texts(a, b)).includes("still here?"), TIMEOUT)
      const after = stateToJson(await a.run(a.service.state))
      // A chat message forged as B's on the A–B topic is indistinguishable from B's without
      // signatures (docs/protocol.md, known gaps): message bookkeeping is left out of the comparison.
      const strip = (s: ReturnType<typeof stateToJson>) => ({ ...s, clock: 0, lastSeq: 0, seen: [], topics: {}, inbound: {}, outbox: {}, index: { ...s.index, topicSenders: {}, holding: {} } })
      expect(strip(after)).toEqual(strip(before))
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
      const stats = await a.run(a.service.stats)
      expect(stats.dropped - statsBefore.dropped).toBeGreaterThan(50)
    })
  })
}

/** Reads a closed profile's log with the real file log. */
async function readLog(dir: string): Promise<LogRecord[]> {
  const scope = await Effect.runPromise(Scope.make())
  try {
    const context = await Effect.runPromise(Layer.buildWithScope(FileEventLog.layer({ dir }), scope))
    const log = Context.get(context, EventLog)
    const records: LogRecord[] = []
    await Effect.runPromise(log.replay().pipe(Stream.runForEach((r) => Effect.sync(() => { records.push(r) }))))
    return records
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

export type { GroupName, UserId }
