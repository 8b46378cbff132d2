/**
 * How long opening a conversation takes when its history is long: 100,000 messages against a
 * baseline of 1,000 measured in the same process, same code, same machine.
 *
 * For each size a profile log is written through FileEventLog (a profile record, then the messages
 * of one conversation, spread over 30 days), then, RUNS times:
 *   start    — build the chat service on it: open the log (scan, index, lock) and replay the profile;
 *   history  — service.history, the newest page (what a 48-row pane asks for: 96 messages);
 *   render   — that page into a buffer, the timeline's lines, and a blessed draw of the pane;
 *   older    — the next page back (PgUp at the top).
 * Printed: median and p90 per step and size, and the ratio 100k / 1k of the medians.
 *
 * Run: npx tsx bench/history.bench.ts [--runs N] [--large N] [--baseline N]
 */
import { NodeCrypto } from "../adapters/system/node-crypto.ts"
import { FileIdentityStore } from "../adapters/storage/identity-file.ts"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { PassThrough, Writable } from "node:stream"
import { performance } from "node:perf_hooks"
import { Context, Effect, Exit, Layer, Schema, Scope } from "effect"
import { MemoryBroker, memoryTransportLayer } from "../adapters/sim-network/memory-broker.ts"
import { FileEventLog, LOG_FILE } from "../adapters/storage/file-event-log.ts"
import { SystemClock, SystemIds } from "../adapters/system/system.ts"
import { ChatBuffer } from "../adapters/tui/chat-buffer.ts"
import { createLayout, createScreen } from "../adapters/tui/layout.ts"
import { renderTimeline } from "../adapters/tui/timeline.ts"
import { LogEntry } from "../domain/events.ts"
import { topics, type UserId } from "../domain/ids.ts"
import { EventLog } from "../domain/ports/event-log.port.ts"
import { ChatService } from "../domain/service/chat-service.ts"
import { chatServiceLayer } from "../domain/service/compose.ts"
import { percentile } from "./stats.ts"
import { printTable } from "./table.ts"

const ME = "user-10001" as UserId
const PEER = "user-20002" as UserId
const TOPIC = topics.talk(ME, PEER)
const PANE_ROWS = 48
const PAGE = PANE_ROWS * 2
const APPEND_BATCH = 1_000
const SPREAD_MS = 30 * 24 * 60 * 60 * 1000

const argument = (name: string, fallback: number): number => {
  const index = process.argv.indexOf(name)
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} needs a positive integer`)
  return value
}
const RUNS = argument("--runs", 7)
const LARGE = argument("--large", 100_000)
const BASELINE = argument("--baseline", 1_000)

const decodeEntry = Schema.decodeUnknownSync(LogEntry)

const entryFor = (n: number, count: number, start: number): LogEntry => {
  const at = start + Math.floor((n / count) * SPREAD_MS)
  const id = `bench${String(n).padStart(10, "0")}`
  const text = `message ${n}: ${"lorem ipsum dolor sit amet ".repeat(1 + (n % 4))}`.trim()
  return decodeEntry(
    n % 2 === 0
      ? { at, clock: n + 1, event: { _tag: "message.sent", id, topic: TOPIC, text, n: n / 2 + 1 }, out: [] }
      : { at, clock: n + 1, event: { _tag: "message.received", id, from: PEER, topic: TOPIC, text, sentAt: at, sentClock: n + 1, n: (n + 1) / 2 }, out: [] },
  )
}

/** A profile directory whose log holds a profile record and `count` messages with PEER. */
const buildProfile = async (count: number): Promise<{ readonly dir: string; readonly bytes: number }> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mqtt-chat-bench-${count}-`))
  const start = Date.now() - SPREAD_MS
  await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const log = yield* EventLog
        yield* log.append([decodeEntry({ at: start, clock: 1, event: { _tag: "profile.created", user: ME }, out: [] })])
        for (let first = 0; first < count; first += APPEND_BATCH) {
          const batch = Array.from({ length: Math.min(APPEND_BATCH, count - first) }, (_, i) => entryFor(first + i, count, start))
          yield* log.append(batch)
        }
      }).pipe(Effect.provide(FileEventLog.layer({ dir }))),
    ),
  )
  return { dir, bytes: fs.statSync(path.join(dir, LOG_FILE)).size }
}

/** A blessed screen drawing into nothing, the size of a real terminal. */
const headlessScreen = () => {
  const sink = Object.assign(new Writable({ write: (_chunk, _encoding, done) => done() }), { isTTY: true, columns: 160, rows: PANE_ROWS + 3 })
  const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => input })
  return createScreen({ input, output: sink, title: "bench" })
}

interface Sample {
  readonly start: number
  readonly history: number
  readonly render: number
  readonly older: number
}

const measureOnce = async (dir: string, screen: ReturnType<typeof headlessScreen>): Promise<Sample> => {
  const scope = Effect.runSync(Scope.make())
  const broker = new MemoryBroker({ autoFlush: true })
  const layer = chatServiceLayer({
    log: FileEventLog.layer({ dir }),
    clock: SystemClock.layer,
    ids: SystemIds.layer,
    crypto: NodeCrypto.layer,
    identities: FileIdentityStore.layer({ dir }),
    transport: (profile) => memoryTransportLayer(broker, { clientId: profile.me, will: profile.willFor }),
  })
  try {
    let t = performance.now()
    const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
    const start = performance.now() - t
    const service = Context.get(context, ChatService)
    const target = { _tag: "peer", peer: PEER } as const

    t = performance.now()
    const page = await Effect.runPromise(service.history(target, { limit: PAGE }))
    const history = performance.now() - t
    if (page.messages.length === 0) throw new Error("empty history page")

    t = performance.now()
    const buffer = new ChatBuffer(`@${PEER}`, { kind: "peer", user: PEER }, Number.MAX_SAFE_INTEGER)
    buffer.mergePage(page.messages, page.hasMore, false)
    const layout = createLayout(screen)
    layout.pane.show(`bench:${buffer.version}`, () => renderTimeline(buffer, ME), { resetScroll: true })
    screen.render()
    const render = performance.now() - t
    for (const child of [...screen.children]) child.detach()

    t = performance.now()
    const oldest = page.messages[0]?.seq
    if (oldest !== undefined && page.hasMore) await Effect.runPromise(service.history(target, { beforeSeq: oldest, limit: PAGE }))
    const older = performance.now() - t
    return { start, history, render, older }
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const ms = (value: number): string => (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2))

const main = async () => {
  const screen = headlessScreen()
  const sizes = [BASELINE, LARGE]
  const results = new Map<number, { readonly bytes: number; readonly buildMs: number; readonly samples: Sample[] }>()
  const dirs = new Map<number, string>()
  try {
    for (const size of sizes) {
      const t = performance.now()
      const { dir, bytes } = await buildProfile(size)
      dirs.set(size, dir)
      results.set(size, { bytes, buildMs: performance.now() - t, samples: [] })
      // One warm-up run per size: module loading and JIT are not what this measures.
      await measureOnce(dir, screen)
    }
    // Sizes alternate, so a slow moment of the machine does not fall on one size only.
    for (let run = 0; run < RUNS; run++) {
      for (const size of sizes) results.get(size)?.samples.push(await measureOnce(dirs.get(size) ?? "", screen))
    }
  } finally {
    screen.destroy()
    for (const dir of dirs.values()) fs.rmSync(dir, { recursive: true, force: true })
  }

  const base = results.get(BASELINE)
  const large = results.get(LARGE)
  if (base === undefined || large === undefined) throw new Error("missing results")
  const steps: ReadonlyArray<{ readonly name: string; readonly of: (s: Sample) => number }> = [
    { name: "start: open log + replay profile", of: (s) => s.start },
    { name: `history: newest page (${PAGE})`, of: (s) => s.history },
    { name: "render: timeline + blessed draw", of: (s) => s.render },
    { name: "open conversation (history+render)", of: (s) => s.history + s.render },
    { name: `older page (PgUp, ${PAGE})`, of: (s) => s.older },
  ]
  const header = ["step", `${BASELINE.toLocaleString("en")} msgs median / p90 ms`, `${LARGE.toLocaleString("en")} msgs median / p90 ms`, "ratio (medians)"]
  const rows = steps.map((step) => {
    const b = base.samples.map(step.of)
    const l = large.samples.map(step.of)
    return [step.name, `${ms(percentile(b, 50))} / ${ms(percentile(b, 90))}`, `${ms(percentile(l, 50))} / ${ms(percentile(l, 90))}`, `${(percentile(l, 50) / percentile(b, 50)).toFixed(2)}×`]
  })
  console.log(`history bench: ${RUNS} runs per size after one warm-up; node ${process.version}, ${os.cpus()[0]?.model ?? "cpu?"} ×${os.cpus().length}`)
  console.log(`logs: ${BASELINE} msgs = ${(base.bytes / 1e6).toFixed(1)} MB (written in ${ms(base.buildMs)} ms), ${LARGE} msgs = ${(large.bytes / 1e6).toFixed(1)} MB (written in ${ms(large.buildMs)} ms)`)
  printTable(header, rows)
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`history bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    process.exit(1)
  },
)
