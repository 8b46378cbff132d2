/**
 * A broker that checks who connects (docs/decisions/009): the same attacks against Mosquitto with
 * the shipped secure configuration and against the embedded aedes with a password file.
 *
 * Proving that something did NOT arrive, without sleeping: after the attack, a legitimate
 * publisher sends a sentinel that the observer may read. A broker delivers to one subscriber in
 * the order it accepted the messages, and it decides on a publish (deliver or refuse) before it
 * acknowledges it or closes the connection; so once the sentinel is in, anything the attack made
 * deliverable would be in too. Each test also shows the same path delivering what is allowed.
 */
import { randomBytes } from "node:crypto"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Layer, Stream } from "effect"
import mqtt, { type IClientOptions, type MqttClient } from "mqtt"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { MqttTransport } from "../../adapters/mqtt/mqtt-transport.ts"
import { FileEventLog } from "../../adapters/storage/file-event-log.ts"
import { SystemIds } from "../../adapters/system/system.ts"
import type { Topic, UserId } from "../../domain/ids.ts"
import { IdSource } from "../../domain/ports/id-source.port.ts"
import { startUser, type RunningUser } from "../support/chat-user.ts"
import type { LockedBrokerHandle, LockedBrokerKind, LockedUser } from "../support/locked-brokers.ts"
import { makePrivateCa, type PrivateCa } from "../support/private-ca.ts"
import { fiveMenuFunctions } from "../support/scenarios.ts"

const TIMEOUT = 15_000
const VICTIM = "user-1"
const ATTACKER = "user-2"
const WRITER = "user-3"
const OBSERVER = "user-4"
const CHAT_USERS = ["user-11", "user-12", "user-13"]
const ALL_USERS = [VICTIM, ATTACKER, WRITER, OBSERVER, ...CHAT_USERS]

interface Received {
  readonly topic: string
  readonly text: string
}

export function lockedBrokerSuite(kind: LockedBrokerKind): void {
  describe.skipIf(kind.skip)(`a broker that checks who connects: ${kind.name}`, () => {
    let broker: LockedBrokerHandle
    let root: string
    let ca: PrivateCa | undefined
    let otherCa: PrivateCa | undefined
    const clients: MqttClient[] = []
    const running: RunningUser[] = []

    beforeAll(async () => {
      root = await mkdtemp(join(tmpdir(), `mqtt-chat-locked-${kind.name}-`))
      if (kind.tls) {
        await Promise.all([mkdtemp(join(root, "ca-")), mkdtemp(join(root, "other-ca-"))]).then(async ([dir, otherDir]) => {
          ca = await makePrivateCa(dir)
          otherCa = await makePrivateCa(otherDir, "someone else's CA")
        })
      }
      broker = await kind.start({ users: ALL_USERS, ...(ca === undefined ? {} : { tls: ca }) })
    })
    afterEach(async () => {
      await Promise.all(running.splice(0).map((user) => user.stop().catch(() => undefined)))
      await Promise.all(clients.splice(0).map((client) => client.endAsync(true).catch(() => undefined)))
    })
    afterAll(async () => {
      await broker?.dispose()
      if (root !== undefined) await rm(root, { recursive: true, force: true })
    })

    const marker = (label: string): string => `${label}-${randomBytes(6).toString("hex")}`

    /** What a client received, collected from before it connected (a resumed session's queue comes at once). */
    const received = new WeakMap<MqttClient, Received[]>()
    const collect = (client: MqttClient): Received[] => received.get(client) ?? []

    /** A raw MQTT.js client; rejects with the broker's refusal. `clean` defaults to true. */
    const connect = async (options: IClientOptions & { readonly as?: LockedUser }): Promise<MqttClient> => {
      const { as, ...rest } = options
      const client = mqtt.connect(broker.url, {
        protocolVersion: 4,
        reconnectPeriod: 0,
        connectTimeout: 5_000,
        clean: true,
        ...(as === undefined ? {} : { username: as.username, password: as.password, clientId: as.username }),
        ...rest,
      })
      clients.push(client)
      const messages: Received[] = []
      received.set(client, messages)
      client.on("message", (topic, payload) => {
        if (messages.length < 10_000) messages.push({ topic, text: payload.toString("utf8") })
      })
      await new Promise<void>((resolve, reject) => {
        client.once("connect", () => resolve())
        client.once("error", reject)
        client.once("close", () => reject(new Error("closed before CONNACK")))
      })
      client.on("error", () => {})
      return client
    }
    const as = (name: string) => broker.user(name)

    const refusal = async (options: IClientOptions & { readonly as?: LockedUser }): Promise<number | undefined> => {
      try {
        await connect(options)
        return undefined
      } catch (error) {
        return (error as { code?: number }).code
      }
    }

    const waitFor = async (what: string, condition: () => boolean): Promise<void> => {
      const deadline = Date.now() + TIMEOUT
      while (!condition()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    }
    const has = (received: ReadonlyArray<Received>, text: string): boolean => received.some((message) => message.text === text)

    /** The writer publishes a sentinel on global_control; resolves once every observer has it. */
    const sentinel = async (...observers: ReadonlyArray<ReadonlyArray<Received>>): Promise<void> => {
      const writer = await connect({ as: as(WRITER) })
      const text = marker("sentinel")
      await writer.publishAsync("global_control", text, { qos: 1 })
      await waitFor("the sentinel", () => observers.every((received) => has(received, text)))
      await writer.endAsync()
    }

    /** Publishes on a connection of its own: aedes closes a connection that publishes where it may not. */
    const tryPublish = async (user: LockedUser, topic: string, text: string, retain = false): Promise<void> => {
      const client = await connect({ as: user })
      await Promise.race([
        client.publishAsync(topic, text, { qos: 1, retain }).catch(() => undefined),
        new Promise((resolve) => client.once("close", () => resolve(undefined))),
      ])
      await client.endAsync(true)
    }

    it("refuses anonymous clients, unknown users and wrong passwords; lets the right password in", async () => {
      expect(await refusal({ clientId: VICTIM })).toBeOneOf([4, 5])
      expect(await refusal({ clientId: VICTIM, username: VICTIM })).toBeOneOf([4, 5])
      expect(await refusal({ clientId: VICTIM, username: VICTIM, password: as(ATTACKER).password })).toBeOneOf([4, 5])
      expect(await refusal({ clientId: "user-999", username: "user-999", password: as(VICTIM).password })).toBeOneOf([4, 5])
      expect(await refusal({ as: as(VICTIM) })).toBeUndefined()
    })

    it("a client cannot take over another user's session by its client id: the queue is neither read nor wiped", async () => {
      const victimSession = { as: as(VICTIM), clean: false }
      let victim = await connect(victimSession)
      await victim.subscribeAsync(`${VICTIM}_control`, { qos: 1 })
      await victim.endAsync()
      const queued = marker("queued")
      await tryPublish(as(WRITER), `${VICTIM}_control`, queued)

      // With its own password, under the victim's client id: to read the queue, then to wipe it.
      for (const clean of [false, true]) {
        let attacker: MqttClient | undefined
        try {
          attacker = await connect({ as: as(ATTACKER), clientId: VICTIM, clean })
        } catch {
          continue // aedes refuses a client id that is not the username; Mosquitto replaces it.
        }
        const seen = collect(attacker)
        await attacker.subscribeAsync(["#", `${VICTIM}_control`], { qos: 1 })
        await sentinel(seen)
        expect(has(seen, queued)).toBe(false)
        await attacker.endAsync()
      }

      victim = await connect(victimSession)
      const got = collect(victim)
      await waitFor("the victim's queued message", () => has(got, queued))

      // And while the victim is connected, a connection under its client id does not drop it.
      await refusal({ as: as(ATTACKER), clientId: VICTIM })
      const live = marker("live")
      await tryPublish(as(WRITER), `${VICTIM}_control`, live)
      await waitFor("the victim still receives", () => has(got, live))
      expect(victim.connected).toBe(true)
    })

    it("presence: nobody writes another user's presence, retained or as a Will; the owner does", async () => {
      const observer = await connect({ as: as(OBSERVER) })
      const seen = collect(observer)
      await observer.subscribeAsync("global_control/presence/+", { qos: 1 })
      const forged = marker("forged")
      await tryPublish(as(ATTACKER), `global_control/presence/${VICTIM}`, forged, true)

      // A Will on the victim's topic, published when a second connection takes the first over;
      // the second one's Will, on its own topic, is the sentinel (it goes the same way, later).
      const forgedWill = marker("forged-will")
      const ownWill = marker("own-will")
      await connect({ as: as(ATTACKER), will: { topic: `global_control/presence/${VICTIM}`, payload: Buffer.from(forgedWill), qos: 1, retain: true } })
      await connect({ as: as(ATTACKER), will: { topic: `global_control/presence/${ATTACKER}`, payload: Buffer.from(ownWill), qos: 1, retain: false } })
      await connect({ as: as(ATTACKER) })
      await waitFor("the attacker's own Will", () => has(seen, ownWill))

      const real = marker("real")
      await tryPublish(as(VICTIM), `global_control/presence/${VICTIM}`, real, true)
      await waitFor("the victim's own presence", () => has(seen, real))
      expect(seen.filter((message) => message.text === forged || message.text === forgedWill)).toEqual([])

      // A late subscriber gets the victim's own retained presence, nothing forged.
      const late = await connect({ as: as(WRITER) })
      const retained = collect(late)
      await late.subscribeAsync(`global_control/presence/${VICTIM}`, { qos: 1 })
      await waitFor("the retained presence", () => retained.length > 0)
      expect(retained.map((message) => message.text)).toEqual([real])
    })

    it("control topics: only the owner reads its own (not via #, + or the topic itself); every user writes to it", async () => {
      const owner = await connect({ as: as(VICTIM) })
      const ownerGot = collect(owner)
      await owner.subscribeAsync(`${VICTIM}_control`, { qos: 1 })
      const snoop = await connect({ as: as(ATTACKER) })
      const snooped = collect(snoop)
      await snoop.subscribeAsync(["#", "+", `${VICTIM}_control`, `${WRITER}_control`], { qos: 1 })

      const secret = marker("secret")
      await tryPublish(as(WRITER), `${VICTIM}_control`, secret)
      await waitFor("the owner's message", () => has(ownerGot, secret))
      await sentinel(snooped)
      expect(snooped.filter((message) => message.topic.endsWith("_control") && message.topic !== "global_control")).toEqual([])
    })

    it("global_control, group information and talk topics are open to every user; other topics to none", async () => {
      const observer = await connect({ as: as(OBSERVER) })
      const seen = collect(observer)
      await observer.subscribeAsync(["#", "$SYS/#"], { qos: 1 })
      const open = ["global_control", "global_control/groups/team", "11_12_talk", "group_team_talk"]
      const closed = ["a/b", "global_control/other", "global_control/presence/user-3/x", "global_control/groups/team/x", "$SYS/forged"]
      const sent = new Map<string, string>()
      for (const topic of [...open, ...closed]) {
        const text = marker(topic.replaceAll("/", "."))
        sent.set(topic, text)
        await tryPublish(as(WRITER), topic, text)
      }
      for (const topic of open) await waitFor(`the message on ${topic}`, () => has(seen, sent.get(topic)!))
      await sentinel(seen)
      for (const topic of closed) expect(has(seen, sent.get(topic)!), topic).toBe(false)
    })

    const chatUser = (name: string, url = broker.url, extra: { readonly ca?: Buffer } = {}) => {
      const user = as(name)
      const ids = Layer.effect(IdSource, Effect.gen(function*() {
        const system = yield* IdSource
        return IdSource.of({ ...system, newUserId: Effect.succeed(user.username as UserId) })
      })).pipe(Layer.provide(SystemIds.layer))
      return startUser({
        log: FileEventLog.layer({ dir: join(root, `${name}-${randomBytes(4).toString("hex")}`) }),
        ids,
        transport: (profile) => MqttTransport.layer({ url, clientId: profile.me, will: profile.willFor, username: user.username, password: user.password, ...extra }),
      }).then((started) => {
        running.push(started)
        return started
      })
    }

    it("the chat works under these rules: three users do the five menu functions", async () => {
      const [a, b, c] = [await chatUser(CHAT_USERS[0]!), await chatUser(CHAT_USERS[1]!), await chatUser(CHAT_USERS[2]!)]
      expect(a.service.me).toBe(CHAT_USERS[0])
      await fiveMenuFunctions(a, b, c, TIMEOUT)
    })

    describe.skipIf(!kind.tls)("mqtts with a private CA", () => {
      const own = (url: string, ca: Buffer | undefined) =>
        Effect.runPromise(Effect.scoped(Effect.gen(function*() {
          const user = as(VICTIM)
          const transport = yield* MqttTransport.make({ url, clientId: user.username, username: user.username, password: user.password, connectTimeoutMs: 5_000, ...(ca === undefined ? {} : { ca }) })
          const topic = `${user.username}_control` as Topic
          yield* transport.subscribe([topic])
          const text = marker("over-tls")
          yield* transport.publish(topic, new TextEncoder().encode(text), { retain: false })
          const first = yield* transport.incoming.pipe(Stream.take(1), Stream.runCollect)
          return new TextDecoder().decode(first[0]!.payload) === text
        })))

      it("connects when given the CA, and the user reads its own control topic over it", async () => {
        const { readFile } = await import("node:fs/promises")
        expect(await own(broker.tlsUrl!, await readFile(ca!.caFile))).toBe(true)
      })

      it("refuses the server without the CA, or with another CA, at once and saying why", async () => {
        const { readFile } = await import("node:fs/promises")
        for (const given of [undefined, await readFile(otherCa!.caFile)]) {
          const failure = await own(broker.tlsUrl!, given).then(() => "connected", (error: unknown) => String(error))
          expect(failure).toMatch(/the broker.s certificate does not verify/)
        }
      })
    })
  })
}
