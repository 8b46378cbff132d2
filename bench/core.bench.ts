/**
 * The core's costs, each next to a baseline measured in the same process on the same data:
 *   1. evolve per record: chat messages (plain reducer) vs protocol records (XState machines),
 *      against JSON.parse of the same records' JSON and a plain loop over them;
 *   2. decide + evolve per chat message, sender and receiver side (with the wire codec), against
 *      JSON.stringify / JSON.parse of the same envelopes;
 *   3. replay of a 100,000-record log: from memory (fold only; decode + fold) and from a file
 *      (the chat's FileEventLog open + replay; the replay tool's read-only reader), against
 *      readFileSync + split + JSON.parse;
 *   4. the simulator's own events per second.
 * Prints tables, asserts nothing. Run: npx tsx bench/core.bench.ts (about 20 s).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { Effect, Result, Schema, Stream } from "effect"
import { FileEventLog, LOG_FILE } from "../adapters/storage/file-event-log.ts"
import { scanLog } from "../adapters/storage/log-scan.ts"
import { encodeRecordLine } from "../adapters/storage/record-codec.ts"
import { LogReader } from "../apps/replay/log-reader.ts"
import { DEFAULT_SIM_OPTIONS } from "../apps/sim/options.ts"
import { simulate } from "../apps/sim/simulation.ts"
import { openWorld } from "../apps/sim/open-world.ts"
import { formatNumber, renderTable, type Cell } from "../apps/sim/text-table.ts"
import { evolve, initialChatState, replay, type ChatState } from "../domain/chat/chat-state.ts"
import { decideCommand, decideIncoming, type DecisionContext } from "../domain/chat/decide.ts"
import { LogRecord, type DomainEvent, type LogEntry } from "../domain/events.ts"
import { topics, type MessageId, type UserId } from "../domain/ids.ts"
import { EventLog } from "../domain/ports/event-log.port.ts"
import { decodeEnvelopeText, encodeEnvelope } from "../domain/wire/messages.ts"

/** Each measurement repeats its work until at least this long has passed, after one warm-up run. */
const MIN_MEASURE_MS = 400
/** Repetitions are bounded too: a very fast body stops here. */
const MAX_REPEATS = 10_000
const REPLAY_RECORDS = 100_000
const MESSAGES_PER_SIDE = 20_000

interface Measured {
  readonly perSecond: number
  readonly msPerRun: number
}

/** Runs `body` (which handles `items` items) repeatedly; returns items per second. */
const measure = (items: number, body: () => void, minMs = MIN_MEASURE_MS): Measured => {
  body()
  let runs = 0
  const start = performance.now()
  let elapsed = 0
  while ((elapsed < minMs || runs === 0) && runs < MAX_REPEATS) {
    body()
    runs += 1
    elapsed = performance.now() - start
  }
  return { perSecond: (items * runs * 1000) / elapsed, msPerRun: elapsed / runs }
}

/** The best of `tries` timed runs: for bodies too long to repeat many times (the log is 100,000 records). */
const bestOf = async (items: number, tries: number, body: () => Promise<void> | void): Promise<Measured> => {
  let best = Infinity
  for (let i = 0; i < tries; i++) {
    const start = performance.now()
    await body()
    best = Math.min(best, performance.now() - start)
  }
  return { perSecond: (items * 1000) / best, msPerRun: best }
}

const rate = (m: Measured): string => `${formatNumber(m.perSecond, 0)}/s`
const ratio = (m: Measured, baseline: Measured): string => `${formatNumber(m.perSecond / baseline.perSecond, 2)}×`
const perItemUs = (m: Measured): string => formatNumber(1e6 / m.perSecond, 2)

const print = (title: string, headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<Cell>>): void => {
  console.log(`\n${renderTable(rows, { title, headers })}`)
}

// --- 1. evolve: messages vs protocol

const MESSAGE_TAGS: ReadonlyArray<DomainEvent["_tag"]> = ["message.sent", "message.received", "message.held"]
const PROTOCOL_PREFIXES = ["presence.", "conversation.", "group."]

/** One user's records of one kind, numbered 1, 2, 3… after its profile record, so they fold alone. */
const subset = (log: ReadonlyArray<LogRecord>, keep: (record: LogRecord) => boolean): Array<LogRecord> => {
  const kept = [log[0]!, ...log.slice(1).filter(keep)]
  return kept.map((record, i) => ({ ...record, seq: i + 1 }))
}

const encodeJson = Schema.encodeSync(Schema.fromJsonString(LogRecord))

const benchEvolve = async (): Promise<void> => {
  // Real traffic: the simulator's logs (negotiations, groups, presence, chat) of 10 real services.
  const { users } = await simulate({ ...DEFAULT_SIM_OPTIONS, users: 10, steps: 5000, timing: false })
  const kinds = [
    { name: "chat messages (plain reducer)", keep: (r: LogRecord) => MESSAGE_TAGS.includes(r.event._tag) },
    { name: "protocol (XState machines)", keep: (r: LogRecord) => PROTOCOL_PREFIXES.some((p) => r.event._tag.startsWith(p)) },
  ]
  const rows: Array<Array<Cell>> = []
  for (const kind of kinds) {
    const logs = users.map((user) => subset(user.log, kind.keep))
    const count = logs.reduce((sum, log) => sum + log.length - 1, 0)
    const lines = logs.flatMap((log) => log.map((record) => encodeJson(record)))
    let sink = 0
    const folded = measure(count, () => {
      for (const log of logs) sink += replay(log).lastSeq
    })
    const parsed = measure(count, () => {
      for (const line of lines) sink += (JSON.parse(line) as { seq: number }).seq
    })
    const looped = measure(count, () => {
      for (const log of logs) for (const record of log) sink += record.clock
    })
    if (sink === 0) throw new Error("the measured loops did nothing")
    rows.push([kind.name, count, rate(folded), perItemUs(folded), rate(parsed), ratio(folded, parsed), rate(looped)])
  }
  print(
    "1. evolve per record, on the simulator's logs (10 users, 5,000 steps)",
    ["records", "count", "evolve", "µs/record", "baseline JSON.parse", "evolve / JSON.parse", "baseline plain loop"],
    rows,
  )
}

// --- 2. decide + evolve per chat message

/**
 * Two users whose states come from real services in the simulation world (an active
 * conversation), then driven directly through decide/evolve: the core's own cost, without
 * signing, sealing or the service around it.
 */
class ChatPair {
  a: ChatState
  b: ChatState
  readonly idA: UserId
  readonly idB: UserId
  private nowMs: number
  private nextId = 0

  private constructor(a: ChatState, b: ChatState, idA: UserId, idB: UserId, nowMs: number) {
    this.a = a
    this.b = b
    this.idA = idA
    this.idB = idB
    this.nowMs = nowMs
  }

  static readonly open = async (): Promise<ChatPair> => {
    const world = await openWorld({ seed: 1, users: 2 })
    try {
      const [idA, idB] = world.ids as [UserId, UserId]
      await world.startAll()
      await world.command(0, { _tag: "conversation.request", peer: idB })
      await world.drain()
      await world.command(1, { _tag: "conversation.accept", peer: idA })
      await world.drain()
      return new ChatPair(await world.state(0), await world.state(1), idA, idB, await world.run(world.world.now))
    } finally {
      await world.close()
    }
  }

  private context(): DecisionContext {
    this.nowMs += 250
    return { now: this.nowMs, newMessageId: () => `bench${String(this.nextId++).padStart(10, "0")}` as MessageId }
  }

  /** decide + evolve + encode on the sender: the payload to publish. */
  send(from: "a" | "b", text: string): { readonly record: LogRecord; readonly payload: string } {
    const state = from === "a" ? this.a : this.b
    const peer = from === "a" ? this.idB : this.idA
    const entry = Result.getOrThrow(decideCommand(state, { _tag: "message.send", target: { _tag: "peer", peer }, text }, this.context()))
    const record: LogRecord = { seq: state.lastSeq + 1, ...entry }
    const next = evolve(state, record)
    if (from === "a") this.a = next
    else this.b = next
    return { record, payload: encodeEnvelope(entry.out[0]!.envelope) }
  }

  /** decode + decide + evolve on the receiver: the records it stores. */
  receive(to: "a" | "b", payload: string): ReadonlyArray<LogRecord> {
    let state = to === "a" ? this.a : this.b
    const topic = topics.talk(this.idA, this.idB)
    const envelope = Result.getOrThrow(decodeEnvelopeText(payload))
    const entries = Result.getOrThrow(decideIncoming(state, topic, envelope, this.context()))
    const records = entries.map((entry: LogEntry, i) => ({ seq: state.lastSeq + 1 + i, ...entry }))
    for (const record of records) state = evolve(state, record)
    if (to === "a") this.a = state
    else this.b = state
    return records
  }

  /** What the service logs after the broker's PUBACKs. */
  ack(from: "a" | "b", ids: ReadonlyArray<MessageId>): LogRecord {
    const state = from === "a" ? this.a : this.b
    const record: LogRecord = { seq: state.lastSeq + 1, at: this.nowMs, clock: state.clock, event: { _tag: "outbox.acked", ids }, out: [] }
    if (from === "a") this.a = evolve(state, record)
    else this.b = evolve(state, record)
    return record
  }
}

const TEXTS = ["ok", "see you at three then, bring the slides", "ça marche 👍", "a longer line of chat, the kind that explains something in a sentence or two"]

/** One timed run of `body`, for work that cannot be repeated on the same data. */
const timedOnce = (items: number, body: () => void): Measured => {
  const start = performance.now()
  body()
  const elapsed = performance.now() - start
  return { perSecond: (items * 1000) / elapsed, msPerRun: elapsed }
}

const benchDecideEvolve = async (): Promise<void> => {
  const pair = await ChatPair.open()
  const sendBatch = (): Array<string> =>
    Array.from({ length: MESSAGES_PER_SIDE }, (_, i) => pair.send("a", TEXTS[i % TEXTS.length]!).payload)
  let stored = 0
  const receiveBatch = (payloads: ReadonlyArray<string>): void => {
    for (const payload of payloads) stored += pair.receive("b", payload).length
  }
  // A message can be received once (a second time it is a duplicate, dropped): every timed run
  // gets fresh messages, after a warm-up batch on each side.
  const warmUp = sendBatch()
  let payloads: Array<string> = []
  const sender = timedOnce(MESSAGES_PER_SIDE, () => { payloads = sendBatch() })
  receiveBatch(warmUp)
  const receiver = timedOnce(MESSAGES_PER_SIDE, () => receiveBatch(payloads))
  if (stored !== 2 * MESSAGES_PER_SIDE) throw new Error(`the receiver stored ${stored} records for ${2 * MESSAGES_PER_SIDE} messages`)
  const objects = payloads.map((payload) => JSON.parse(payload) as unknown)
  let sink = 0
  const stringify = measure(objects.length, () => {
    for (const object of objects) sink += JSON.stringify(object).length
  })
  const parse = measure(payloads.length, () => {
    for (const payload of payloads) sink += (JSON.parse(payload) as { clock: number }).clock
  })
  if (sink === 0) throw new Error("the measured loops did nothing")
  print(
    `2. decide + evolve per chat message (${formatNumber(MESSAGES_PER_SIDE)} messages after ${formatNumber(MESSAGES_PER_SIDE)} of warm-up, one-to-one, real wire codec)`,
    ["side", "messages/s", "µs/message", "baseline", "baseline/s", "ratio"],
    [
      ["sender: decide + evolve + encode", rate(sender), perItemUs(sender), "JSON.stringify of the envelope", rate(stringify), ratio(sender, stringify)],
      ["receiver: decode + decide + evolve", rate(receiver), perItemUs(receiver), "JSON.parse of the envelope", rate(parse), ratio(receiver, parse)],
    ],
  )
}

// --- 3. replay of a 100,000-record log

/** B's log of a busy conversation: received and sent messages, and an ack record every 32 sends. */
const buildConversationLog = async (count: number): Promise<ReadonlyArray<LogRecord>> => {
  const pair = await ChatPair.open()
  const log: Array<LogRecord> = []
  let sentSinceAck: Array<MessageId> = []
  // Each turn adds at least one record: at most `count` turns.
  for (let i = 0; log.length < count; i++) {
    log.push(...pair.receive("b", pair.send("a", TEXTS[i % TEXTS.length]!).payload))
    if (i % 3 === 0 && log.length < count) {
      const { record } = pair.send("b", TEXTS[(i + 1) % TEXTS.length]!)
      log.push(record)
      sentSinceAck.push(record.out[0]!.envelope.id)
    }
    if (sentSinceAck.length === 32 && log.length < count) {
      log.push(pair.ack("b", sentSinceAck))
      sentSinceAck = []
    }
  }
  // The pair started from a world's states: renumber as a log of its own (the fold only needs increasing seq).
  return log.map((record, i) => ({ ...record, seq: i + 1 }))
}

const foldFile = (dir: string): Promise<number> => {
  const program = Effect.gen(function*() {
    const log = yield* EventLog
    let state = initialChatState()
    yield* Stream.runForEach(log.replay(), (record) => Effect.sync(() => { state = evolve(state, record) }))
    return state.lastSeq
  })
  return Effect.runPromise(Effect.provide(program, FileEventLog.layer({ dir })))
}

const foldReadOnly = (file: string): number => {
  const reader = new LogReader(file)
  try {
    let state = initialChatState()
    for (let scanned = reader.next(); scanned !== undefined; scanned = reader.next()) state = evolve(state, scanned.record)
    return state.lastSeq
  } finally {
    reader.close()
  }
}

const benchReplay = async (): Promise<void> => {
  const built = performance.now()
  const records = await buildConversationLog(REPLAY_RECORDS)
  const bytes = Buffer.concat(records.map(encodeRecordLine))
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "core-bench-"))
  const file = path.join(dir, LOG_FILE)
  fs.writeFileSync(file, bytes)
  const buildMs = performance.now() - built
  try {
    const expectLast = (lastSeq: number): void => {
      if (lastSeq !== REPLAY_RECORDS) throw new Error(`replayed up to seq ${lastSeq}, expected ${REPLAY_RECORDS}`)
    }
    const baseline = await bestOf(REPLAY_RECORDS, 1, () => {
      let sink = 0
      // The checksum prefix is 9 bytes: the JSON starts after it.
      for (const line of fs.readFileSync(file, "utf8").split("\n")) if (line.length > 0) sink += (JSON.parse(line.slice(9)) as { seq: number }).seq
      if (sink === 0) throw new Error("nothing parsed")
    })
    const memoryFold = await bestOf(REPLAY_RECORDS, 1, () => expectLast(replay(records).lastSeq))
    const memoryDecode = await bestOf(REPLAY_RECORDS, 1, () => expectLast(replay(scanLog(bytes).records.map((s) => s.record)).lastSeq))
    const fileLog = await bestOf(REPLAY_RECORDS, 1, async () => expectLast(await foldFile(dir)))
    const readOnly = await bestOf(REPLAY_RECORDS, 1, () => expectLast(foldReadOnly(file)))
    const rows: Array<Array<Cell>> = [
      ["baseline: readFileSync + split + JSON.parse", formatNumber(baseline.msPerRun, 0), rate(baseline), "1×"],
      ["memory: fold only (evolve)", formatNumber(memoryFold.msPerRun, 0), rate(memoryFold), ratio(memoryFold, baseline)],
      ["memory: scan + decode (CRC, Schema) + fold", formatNumber(memoryDecode.msPerRun, 0), rate(memoryDecode), ratio(memoryDecode, baseline)],
      ["file: FileEventLog open + replay + fold (chat start)", formatNumber(fileLog.msPerRun, 0), rate(fileLog), ratio(fileLog, baseline)],
      ["file: read-only reader + fold (replay tool)", formatNumber(readOnly.msPerRun, 0), rate(readOnly), ratio(readOnly, baseline)],
    ]
    print(
      `3. replay of a ${formatNumber(REPLAY_RECORDS)}-record log (${formatNumber(bytes.length / 1e6, 1)} MB, one busy conversation; built in ${formatNumber(buildMs, 0)} ms), one run each`,
      ["path", "ms", "records/s", "vs baseline"],
      rows,
    )
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

// --- 4. the simulator itself

const benchSimulation = async (): Promise<void> => {
  const sizes = [
    { users: 5, steps: 3_000 },
    { users: 20, steps: 3_000 },
  ]
  const rows: Array<Array<Cell>> = []
  for (const { users, steps } of sizes) {
    const { report } = await simulate({ ...DEFAULT_SIM_OPTIONS, users, steps, timing: true })
    const timing = report.timing!
    rows.push([`${users} users, ${formatNumber(steps)} steps`, report.commands.total, report.deliveries.total, report.records.total, formatNumber(timing.elapsedMs, 0), `${formatNumber(timing.eventsPerSecond)}/s`, report.ok ? "OK" : "FAILED"])
  }
  print(
    "4. simulator (real services; npm run sim defaults otherwise): events = commands + deliveries",
    ["run", "commands", "deliveries", "records", "ms", "events/s", "invariants"],
    rows,
  )
}

const main = async (): Promise<void> => {
  const started = performance.now()
  console.log(`core bench: node ${process.version}, ${os.cpus()[0]?.model ?? "cpu?"} ×${os.cpus().length}; sections 1-2 after a warm-up run`)
  await benchEvolve()
  await benchDecideEvolve()
  await benchReplay()
  await benchSimulation()
  console.log(`\ncore bench done in ${formatNumber((performance.now() - started) / 1000, 1)} s`)
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`core bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    process.exit(1)
  },
)
