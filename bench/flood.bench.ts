/**
 * Floods and the size of the state, each figure next to a baseline measured in the same process:
 *   1. the core's cost per message (decode, decide, fold) with 100, 1,000 and 10,000 conversations
 *      (and a tenth as many groups) held: chat text from a peer, text sent, a forged acceptance
 *      from a fake id, a stranger's request then its withdrawal, a contact's presence, sorting a
 *      message into its lane — against JSON.parse of the same envelopes. Flat means the ratio of
 *      the 10,000 row to the 100 row stays near 1×;
 *   2. the whole service (decision loop, subscriptions, notices; a free transport, file log) with
 *      100 and 10,000 conversations: a peer's 2,000 messages as they travel (signed frames, text
 *      sealed for me, so verifying and decrypting is included), per message;
 *   3. a real peer's message (a real service sends it) sent halfway through a 100,000-message
 *      flood of requests and acceptances from fake ids, every one a validly signed frame and every
 *      fake id with keys of its own, all minted (tests/support/flood.ts), so the victim checks each
 *      signature with a key it has never seen (the victim on a file log; on the in-memory broker,
 *      and on a real Mosquitto through the MQTT adapter when one is installed): how long until it
 *      is shown, how much of the flood still waited then, and how long until it was worked off.
 *      Minting and signing happen before the clock starts.
 * Section 1 feeds the pure core decoded envelopes (what it is given after the frame is opened);
 * only its lane-sorting row takes signed frames, as the lanes do.
 * Prints tables, asserts nothing. Run: npx tsx bench/flood.bench.ts (about two minutes).
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { Context, Effect, Exit, Layer, Queue, Result, Scope, Stream } from "effect"
import mqtt from "mqtt"
import { MqttTransport } from "../adapters/mqtt/mqtt-transport.ts"
import { MemoryBroker, memoryTransportLayer } from "../adapters/sim-network/memory-broker.ts"
import { FileEventLog } from "../adapters/storage/file-event-log.ts"
import { MemoryEventLog } from "../adapters/storage/memory-event-log.ts"
import { SystemClock, SystemIds } from "../adapters/system/system.ts"
import { NodeCrypto } from "../adapters/system/node-crypto.ts"
import { IdentityStore } from "../domain/ports/identity-store.port.ts"
import { formatNumber, renderTable, type Cell } from "../apps/sim/text-table.ts"
import { evolve, initialChatState, type ChatState } from "../domain/chat/chat-state.ts"
import { decideCommand, decideIncoming, type DecisionContext } from "../domain/chat/decide.ts"
import type { LogEntry, LogRecord } from "../domain/events.ts"
import { topics, type GroupName, type MessageId, type UserId } from "../domain/ids.ts"
import { EventLog } from "../domain/ports/event-log.port.ts"
import { Transport, type Incoming } from "../domain/ports/transport.port.ts"
import type { ProfileSnapshot } from "../domain/service/profile.ts"
import { ChatService, type ChatNotice } from "../domain/service/chat-service.ts"
import { chatServiceLayer } from "../domain/service/compose.ts"
import { laneOf } from "../domain/service/lanes.ts"
import { decodeEnvelopeText, encodeEnvelope, type Body, type Envelope } from "../domain/wire/messages.ts"
import { controlFlood, mintFakeIds, signedFrame, type FakeId } from "../tests/support/flood.ts"
import { makeSigner } from "../tests/support/forger.ts"
import { mosquittoAvailable, startMosquitto } from "../tests/support/mosquitto.ts"

const SIZES = [100, 1_000, 10_000]

// A full collection before each timed run, so that a run does not pay for the garbage of the one
// before it (with 10,000 conversations in the heap that dominated single runs).
v8.setFlagsFromString("--expose-gc")
const collectGarbage = vm.runInNewContext("gc") as () => void
const MESSAGES = 2_000
const ME = "user-10000" as UserId
const PEER = "user-20000" as UserId

const print = (title: string, headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<Cell>>): void => {
  console.log(`\n${renderTable(rows, { title, headers })}`)
}
const us = (ms: number, count: number): string => formatNumber((ms * 1000) / count, 2)

let nextId = 0
const newId = () => `b${String(nextId++).padStart(14, "0")}` as MessageId
const context = (): DecisionContext => ({ now: 1_700_000_000_000 + nextId, newMessageId: newId })
const envelope = (from: UserId, body: Body): Envelope => ({ v: 1, id: newId(), from, ts: 1, clock: 1, body })

const foldAll = (state: ChatState, entries: ReadonlyArray<LogEntry>, log?: LogRecord[]): ChatState => {
  let next = state
  for (const entry of entries) {
    const record: LogRecord = { seq: next.lastSeq + 1, ...entry }
    log?.push(record)
    next = evolve(next, record)
  }
  return next
}
const mustCommand = (state: ChatState, command: Parameters<typeof decideCommand>[1], log?: LogRecord[]): ChatState =>
  foldAll(state, [Result.getOrThrow(decideCommand(state, command, context()))], log)
const mustIncoming = (state: ChatState, topic: string, env: Envelope, log?: LogRecord[]): ChatState =>
  foldAll(state, Result.getOrThrow(decideIncoming(state, topic, env, context())), log)

/** My state with `count` open conversations (each with one message received) and count/10 groups I lead. */
const stateWith = (count: number, log?: LogRecord[]): ChatState => {
  let state = mustCommand(initialChatState(), { _tag: "profile.create", user: ME }, log)
  state = mustCommand(state, { _tag: "session.start" }, log)
  for (let i = 0; i < count; i++) {
    const peer = (i === 0 ? PEER : `user-${30000 + i}`) as UserId
    state = mustIncoming(state, topics.control(ME), envelope(peer, { _tag: "chat.request", to: ME, attempt: 1, ends: 0 }), log)
    state = mustCommand(state, { _tag: "conversation.accept", peer }, log)
    state = mustIncoming(state, topics.talk(ME, peer), envelope(peer, { _tag: "chat.message", text: "hello", n: 1 }), log)
    if (i % 10 === 0) state = mustCommand(state, { _tag: "group.create", group: `g${i}` as GroupName }, log)
  }
  return state
}

// --- 1. the core, per message

interface CoreRow {
  readonly size: number
  readonly costs: ReadonlyArray<number>
  readonly baseline: number
}

const CORE_KINDS = [
  "chat text from a peer: decode + decide + fold",
  "chat text sent: decide + fold + encode",
  "forged acceptance from a fake id: decode + decide (dropped)",
  "stranger's request, then its withdrawal: decode + decide + fold",
  "a contact's presence: decode + decide + fold",
  "sorting a stranger's message into its lane",
] as const

const benchCore = (size: number): CoreRow => {
  const base = stateWith(size)
  const n = MESSAGES
  // Best of three runs, each after a full collection: a single run at 10,000 conversations mostly
  // measured when the GC ran.
  const time = (body: () => void): number => {
    let best = Infinity
    for (let run = 0; run < 3; run++) {
      collectGarbage()
      const started = performance.now()
      body()
      best = Math.min(best, performance.now() - started)
    }
    return best
  }
  // Fresh envelopes (new ids) for each of the three runs: the seen-set is shared with `base`, a repeat would be a duplicate.
  const fresh = (items: number, make: (i: number) => { topic: string; payload: string }) => {
    const sets = Array.from({ length: 3 }, () => Array.from({ length: items }, (_, i) => make(i)))
    let run = 0
    return () => sets[run++ % sets.length]!
  }
  const chat = fresh(n, (i) => ({ topic: topics.talk(ME, PEER), payload: encodeEnvelope(envelope(PEER, { _tag: "chat.message", text: "a line of chat of ordinary length", n: i + 2 })) }))
  const forged = fresh(n, (i) => {
    const from = `user-${500000 + i}` as UserId
    return { topic: topics.control(ME), payload: encodeEnvelope(envelope(from, { _tag: "chat.accept", to: ME, attempt: 1, topic: topics.talk(ME, from) })) }
  })
  // What the lanes sort is the frame as received: validly signed, each fake id with keys of its own.
  const forgedBytes = mintFakeIds(500000, n).map((id) => ({
    topic: topics.control(ME),
    payload: signedFrame(id, topics.control(ME), envelope(id.user, { _tag: "chat.accept", to: ME, attempt: 1, topic: topics.talk(ME, id.user) })),
  }))
  const strangers = fresh(n, (i) => {
    const from = `user-${600000 + Math.floor(i / 2)}` as UserId
    const body: Body = i % 2 === 0 ? { _tag: "chat.request", to: ME, attempt: 1, ends: 0 } : { _tag: "chat.leave", to: ME, attempt: 2, ends: 0, topic: topics.talk(ME, from) }
    return { topic: topics.control(ME), payload: encodeEnvelope(envelope(from, body)) }
  })
  const presence = fresh(n, (i) => ({ topic: topics.presence(PEER), payload: encodeEnvelope(envelope(PEER, { _tag: "presence", status: i % 2 === 0 ? "offline" : "online", session: 1 + i, connection: 1 })) }))
  const receive = (next: () => ReadonlyArray<{ topic: string; payload: string }>) => {
    let state = base
    for (const item of next()) {
      const decided = decideIncoming(state, item.topic, Result.getOrThrow(decodeEnvelopeText(item.payload)), context())
      if (Result.isSuccess(decided)) state = foldAll(state, decided.success)
    }
    return state
  }
  const costs = [
    time(() => receive(chat)),
    time(() => {
      let state = base
      for (let i = 0; i < n; i++) {
        const entry = Result.getOrThrow(decideCommand(state, { _tag: "message.send", target: { _tag: "peer", peer: PEER }, text: "a line of chat of ordinary length" }, context()))
        encodeEnvelope(entry.out[0]!.envelope)
        state = foldAll(state, [entry])
      }
    }),
    time(() => receive(forged)),
    time(() => receive(strangers)),
    time(() => receive(presence)),
    time(() => {
      for (const item of forgedBytes) laneOf(base, ME, item.topic, item.payload)
    }),
  ]
  let sink = 0
  const baseline = time(() => {
    for (const item of chat()) sink += (JSON.parse(item.payload) as { clock: number }).clock
  })
  if (sink === 0) throw new Error("the baseline did nothing")
  return { size, costs, baseline }
}

const reportCore = (rows: ReadonlyArray<CoreRow>): void => {
  const first = rows[0]!
  const last = rows[rows.length - 1]!
  const ratio = (value: number) => `${formatNumber(value, 2)}×`
  print(
    `1. the core, µs per message with N conversations held (and N/10 groups I lead); best of 3 runs of ${formatNumber(MESSAGES)} messages, after a warm-up`,
    ["message", ...rows.map((r) => `N = ${formatNumber(r.size)}`), `N ${formatNumber(last.size)} / ${formatNumber(first.size)}`, "same, each ÷ its baseline"],
    [
      ...CORE_KINDS.map((kind, k) => [
        kind,
        ...rows.map((r) => us(r.costs[k]!, MESSAGES)),
        ratio(last.costs[k]! / first.costs[k]!),
        ratio(last.costs[k]! / last.baseline / (first.costs[k]! / first.baseline)),
      ]),
      ["baseline: JSON.parse of the chat envelope, same process and heap", ...rows.map((r) => us(r.baseline, MESSAGES)), ratio(last.baseline / first.baseline), "1×"],
    ],
  )
}

// --- 2. and 3. the service

interface Running {
  readonly service: ChatService["Service"]
  readonly notices: Array<ChatNotice>
  stop(): Promise<void>
}

const onBroker = (broker: MemoryBroker) => (profile: ProfileSnapshot) => memoryTransportLayer(broker, { clientId: profile.me, will: profile.willFor })

/** A transport that costs nothing: what is offered to `incoming` is received, publishing is free. */
const freeTransport = (incoming: Queue.Queue<Incoming>) => () =>
  Layer.succeed(Transport, Transport.of({
    publish: () => Effect.void,
    subscribe: () => Effect.void,
    unsubscribe: () => Effect.void,
    incoming: Stream.fromQueue(incoming),
    connectionState: Effect.succeed({ _tag: "connected", connection: 1 }),
    connectionChanges: Stream.make({ _tag: "connected" as const, connection: 1 }),
    close: () => Effect.void,
  }))

const startService = async (transport: (profile: ProfileSnapshot) => Layer.Layer<Transport>, log: Layer.Layer<EventLog, unknown>, watch?: (notice: ChatNotice) => void): Promise<Running> => {
  const scope = await Effect.runPromise(Scope.make())
  const layer = chatServiceLayer({
    log: log as Layer.Layer<EventLog, never>,
    clock: SystemClock.layer,
    ids: SystemIds.layer,
    crypto: NodeCrypto.layer,
    identities: IdentityStore.layerMemory(),
    transport,
  })
  const built = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const service = Context.get(built, ChatService)
  const notices: Array<ChatNotice> = []
  Effect.runFork(service.notices.pipe(Stream.runForEach((n) => Effect.sync(() => {
    watch?.(n)
    if (n._tag === "message" && notices.length < 1_000_000) notices.push(n)
  }))).pipe(Effect.forkIn(scope)))
  return {
    service,
    notices,
    stop: async () => {
      await Effect.runPromise(service.shutdown())
      await Effect.runPromise(Scope.close(scope, Exit.void))
    },
  }
}

/** A profile directory whose log holds `size` open conversations. */
const profileWith = async (size: number): Promise<string> => {
  const records: LogRecord[] = []
  const state = stateWith(size, records)
  // The broker acknowledged everything: nothing to publish again at start.
  const unacked = state.outbox.values().map((out) => out.envelope.id)
  for (let i = 0; i < unacked.length; i += 1024) {
    records.push({ seq: records.length + 1, at: 1, clock: state.clock, event: { _tag: "outbox.acked", ids: unacked.slice(i, i + 1024) }, out: [] })
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flood-bench-"))
  await Effect.runPromise(Effect.scoped(EventLog.use((log) => Effect.forEach(
    Array.from({ length: Math.ceil(records.length / 1000) }, (_, i) => records.slice(i * 1000, (i + 1) * 1000).map(({ seq: _seq, ...entry }) => entry)),
    (chunk) => log.append(chunk),
  )).pipe(Effect.provide(FileEventLog.layer({ dir })))))
  return dir
}

const until = async (what: string, check: () => boolean, timeoutMs = 120_000): Promise<void> => {
  const deadline = performance.now() + timeoutMs
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

const benchService = async (size: number): Promise<{ readonly size: number; readonly startMs: number; readonly perMessageUs: number }> => {
  const dir = await profileWith(size)
  try {
    const incoming = Effect.runSync(Queue.unbounded<Incoming>())
    const started = performance.now()
    const me = await startService(freeTransport(incoming), FileEventLog.layer({ dir }))
    const startMs = performance.now() - started
    // The peer's messages as they travel: chat text sealed for me, in frames signed with the peer's keys.
    const myKeys = (await Effect.runPromise(me.service.whois(ME))).keys
    if (myKeys === null) throw new Error("bench: the profile has no keys")
    const peer = makeSigner({ user: PEER, signSeed: new Uint8Array(crypto.randomBytes(32)), agreeSeed: new Uint8Array(crypto.randomBytes(32)) })
    const talk = topics.talk(ME, PEER)
    const sealed = (env: Envelope) => {
      const message = encodeEnvelope(env)
      const frame = peer.frameText(talk, peer.sealChatText(talk, message, myKeys))
      if (!frame.includes("chat.sealed")) throw new Error("bench: the peer's text was not sealed")
      return new TextEncoder().encode(frame)
    }
    // A warm-up batch, then the best of three (the first after start mostly measures the GC of the replay).
    let best = Infinity
    for (let run = 0; run < 4; run++) {
      const payloads = Array.from({ length: MESSAGES }, (_, i) => sealed(envelope(PEER, { _tag: "chat.message", text: "a line of chat of ordinary length", n: run * MESSAGES + i + 2 })))
      const t0 = performance.now()
      for (const payload of payloads) Queue.offerUnsafe(incoming, { topic: talk, payload, retained: false })
      await until("the service shows every message", () => me.notices.length >= (run + 1) * MESSAGES)
      if (run > 0) best = Math.min(best, performance.now() - t0)
    }
    await me.stop()
    return { size, startMs, perMessageUs: (best * 1000) / MESSAGES }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const FLOOD = 100_000

/** Where the flood runs: the in-memory broker, or a real Mosquitto through the MQTT adapter. */
interface FloodNetwork {
  readonly name: string
  transport(profile: ProfileSnapshot): Layer.Layer<Transport, unknown>
  /** The attacker's publishes, in order; resolves once the broker has them. */
  publish(topic: string, payloads: ReadonlyArray<Uint8Array>): Promise<void>
  close(): Promise<void>
}

const memoryNetwork = (): FloodNetwork => {
  const broker = new MemoryBroker({ autoFlush: true })
  return {
    name: "in-memory broker",
    transport: onBroker(broker),
    publish: async (topic, payloads) => {
      for (const payload of payloads) broker.publish({ topic, payload, retain: false })
    },
    close: async () => undefined,
  }
}

const mosquittoNetwork = async (): Promise<FloodNetwork | null> => {
  if (!mosquittoAvailable()) return null
  const broker = await startMosquitto()
  const attacker = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clientId: "flood-bench-attacker", clean: true, reconnectPeriod: 0 })
  return {
    name: "Mosquitto, MQTT.js",
    transport: (profile) => MqttTransport.layer({ url: broker.url, clientId: profile.me, will: profile.willFor }),
    publish: async (topic, payloads) => {
      await Promise.all(payloads.map((payload) => attacker.publishAsync(topic, Buffer.from(payload), { qos: 1 })))
    },
    close: async () => {
      await attacker.endAsync()
      await broker.dispose()
    },
  }
}

const benchFloodLatency = async (network: FloodNetwork, fakeIds: ReadonlyArray<FakeId>): Promise<ReadonlyArray<Cell>> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flood-bench-victim-"))
  let shownAt = 0
  let waitingAtShow = 0
  let victim: Running | null = null
  const text = "are you there?"
  victim = await startService(network.transport as (profile: ProfileSnapshot) => Layer.Layer<Transport>, FileEventLog.layer({ dir }), (notice) => {
    if (shownAt === 0 && notice._tag === "message" && notice.message.text === text && victim !== null) {
      shownAt = performance.now()
      waitingAtShow = Effect.runSync(victim.service.stats).strangers.waiting
    }
  })
  const peer = await startService(network.transport as (profile: ProfileSnapshot) => Layer.Layer<Transport>, MemoryEventLog.layer)
  try {
    const [idV, idP] = [victim.service.me, peer.service.me]
    await Effect.runPromise(peer.service.startConversation(idV))
    await until("the request", () => Effect.runSync(victim!.service.requests()).length === 1)
    await Effect.runPromise(victim.service.acceptConversation(idP))
    await until("the conversation", () => Effect.runSync(peer.service.listUsers()).some((u) => u.conversation === "active"))
    // Validly signed frames, each fake id with keys of its own (minted once for both networks; each
    // network has a new victim, to whom every fake id is new).
    const flood = controlFlood(idV, fakeIds, { idPrefix: "flood" })
    const t0 = performance.now()
    // The flood arrives in slices (as from a socket); the real message is sent halfway through it.
    let sentAt = 0
    for (let i = 0; i < FLOOD; i += 1000) {
      await network.publish(topics.control(idV), flood.slice(i, i + 1000))
      if (i === FLOOD / 2) {
        sentAt = performance.now()
        await Effect.runPromise(peer.service.send({ _tag: "peer", peer: idV }, text))
      }
      await new Promise((resolve) => setImmediate(resolve))
    }
    await until("the real message", () => shownAt > 0)
    await until("the flood worked off", () => {
      const stats = Effect.runSync(victim!.service.stats)
      return stats.strangers.waiting === 0 && stats.received >= FLOOD
    })
    const workedOff = performance.now() - t0
    const stats = Effect.runSync(victim.service.stats)
    const state = Effect.runSync(victim.service.state)
    return [network.name, formatNumber(FLOOD), formatNumber(shownAt - sentAt, 1), formatNumber(waitingAtShow), formatNumber(workedOff, 0), formatNumber(stats.dropped), formatNumber(state.conversations.size)]
  } finally {
    await peer.stop()
    await victim.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const floodRows = async (): Promise<ReadonlyArray<ReadonlyArray<Cell>>> => {
  const rows: Array<ReadonlyArray<Cell>> = []
  const minting = performance.now()
  const fakeIds = mintFakeIds(700000, FLOOD)
  console.log(`(minted ${formatNumber(FLOOD)} fake ids with keys of their own in ${formatNumber((performance.now() - minting) / 1000, 1)} s)`)
  for (const make of [async () => memoryNetwork(), mosquittoNetwork]) {
    const network = await make()
    if (network === null) {
      rows.push(["Mosquitto (not installed: skipped)", "", "", "", "", "", ""])
      continue
    }
    try {
      rows.push(await benchFloodLatency(network, fakeIds))
    } finally {
      await network.close()
    }
  }
  return rows
}

/** `npx tsx bench/flood.bench.ts [core] [service] [flood]`: the sections to run (default all). */
const wanted = (section: string): boolean => process.argv.length <= 2 || process.argv.slice(2).includes(section)

const main = async (): Promise<void> => {
  const started = performance.now()
  console.log(`flood bench: node ${process.version}, ${os.cpus()[0]?.model ?? "cpu?"} ×${os.cpus().length}`)
  if (wanted("core")) {
    benchCore(SIZES[0]!)
    reportCore(SIZES.map(benchCore))
  }
  if (wanted("service")) await reportService()
  if (wanted("flood")) {
    print(
      `3. a real peer's message sent halfway through a flood of ${formatNumber(FLOOD)} requests and acceptances from fake ids, validly signed, each id with keys of its own (victim on a file log)`,
      ["network", "flood", "shown after, ms", "strangers still waiting then", "flood worked off, ms", "dropped", "conversations kept"],
      await floodRows(),
    )
  }
  console.log(`\nflood bench done in ${formatNumber((performance.now() - started) / 1000, 1)} s`)
}

const reportService = async (): Promise<void> => {
  await benchService(SIZES[0]!)
  const service = [await benchService(SIZES[0]!), await benchService(SIZES[SIZES.length - 1]!)]
  print(
    `2. the service (decision loop, file log, a transport that costs nothing): best of 3 batches of a peer's ${formatNumber(MESSAGES)} messages (signed, text sealed: verified and decrypted), after one, with N conversations held`,
    ["N", "start (replay + connect), ms", "µs per message shown", "vs N = 100"],
    service.map((r) => [formatNumber(r.size), formatNumber(r.startMs, 0), formatNumber(r.perMessageUs, 1), `${formatNumber(r.perMessageUs / service[0]!.perMessageUs, 2)}×`]),
  )
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`flood bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    process.exit(1)
  },
)
