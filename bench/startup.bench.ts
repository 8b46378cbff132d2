/**
 * Time from launching the chat client to an interactive screen, measured the way a person sees
 * it: the command is typed into a terminal (tmux), and the clock stops when the status bar shows
 * the user's id and "connected" — the first moment typing reaches someone. Goal (issue 8, part 5):
 * under 500 ms on this machine, with an empty profile and with a 100,000-message profile.
 *
 * Rows (each RUNS times after one warm-up, median and p90; every ratio is to the node baseline's
 * median of the same run):
 *   baseline        — `node -e` printing a word: terminal, shell and a node process start;
 *   chat (bundle)   — `node dist/chat.mjs`, what `npm start` runs, against a broker already running
 *                     (--broker, aedes in this process), an empty profile and the 100k profile;
 *   local broker    — no --broker: the data directory's local broker, running, or not running (the
 *                     chat starts it as a detached process; it is stopped again before each run);
 *   npm start       — as typed, through npm (bin/mqtt-chat.mjs: the build check, npm's own start).
 * The 100k profile is generated here (one conversation, 100,000 messages, through FileEventLog).
 *
 * Run: npx tsx bench/startup.bench.ts [--runs N] [--messages N]
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { Effect, Schema } from "effect"
import { startEmbeddedBroker } from "../adapters/broker/embedded-broker.ts"
import { FileEventLog, LOG_FILE } from "../adapters/storage/file-event-log.ts"
import { startBroker, stopBroker } from "../apps/broker/control.ts"
import { LogEntry } from "../domain/events.ts"
import { topics, type UserId } from "../domain/ids.ts"
import { EventLog } from "../domain/ports/event-log.port.ts"
import { freePort } from "../tests/support/free-port.ts"
import { TmuxServer } from "../tests/support/tmux.ts"
import { ensureBuilt } from "../bin/build.mjs"
import { printTable } from "./table.ts"

const ROOT = path.join(import.meta.dirname, "..")
const READY = /^ user-[0-9]+ +● connected/m
const EXITED = /^EXIT=[0-9]+$/m
const POLL_MS = 10
const TIMEOUT_MS = 120_000
const GOAL_MS = 500

const argument = (name: string, fallback: number): number => {
  const index = process.argv.indexOf(name)
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} needs a positive integer`)
  return value
}
const RUNS = argument("--runs", 7)
const MESSAGES = argument("--messages", 100_000)
const APPEND_BATCH = 1_000

interface Scenario {
  readonly name: string
  readonly command: string
  readonly ready: RegExp
  /** How to leave the program once ready (a key), or null when it exits by itself. */
  readonly quitKey: string | null
  /** Run before each launch (not timed). */
  readonly before?: () => Promise<void>
  /** Whether the goal applies to this row. */
  readonly goal: boolean
}

/** Types `command` with an exit marker, returns ms until `ready` shows; then waits for the exit. */
const timeOnce = async (tmux: TmuxServer, window: string, scenario: Scenario): Promise<number> => {
  await scenario.before?.()
  await tmux.line(window, "clear")
  await tmux.waitFor(window, "a clear screen", (screen) => !EXITED.test(screen))
  await tmux.type(window, `${scenario.command}; echo "EXIT=$?"`)
  const started = performance.now()
  await tmux.keys(window, "Enter")
  const deadline = started + TIMEOUT_MS
  // Polls until ready or the deadline: bounded by TIMEOUT_MS / POLL_MS turns.
  for (;;) {
    const screen = await tmux.capture(window)
    if (scenario.ready.test(screen)) break
    if (EXITED.test(screen)) throw new Error(`${scenario.name}: exited before it was ready\n${screen}`)
    if (performance.now() > deadline) throw new Error(`${scenario.name}: not ready after ${TIMEOUT_MS} ms\n${screen}`)
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
  const elapsed = performance.now() - started
  if (scenario.quitKey !== null) await tmux.keys(window, scenario.quitKey)
  await tmux.waitFor(window, `${scenario.name} exits`, EXITED, TIMEOUT_MS)
  return elapsed
}

const percentile = (values: ReadonlyArray<number>, p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
}

const decodeEntry = Schema.decodeUnknownSync(LogEntry)

/** A profile whose log holds a profile record and `count` messages of one conversation (as bench/history). */
const writeBigProfile = async (dir: string, count: number): Promise<number> => {
  const me = "user-10001" as UserId
  const peer = "user-20002" as UserId
  const topic = topics.talk(me, peer)
  const start = Date.now() - 30 * 24 * 60 * 60 * 1000
  const entry = (n: number): LogEntry => {
    const at = start + n * 1000
    const id = `bench${String(n).padStart(10, "0")}`
    const text = `message ${n}: ${"lorem ipsum dolor sit amet ".repeat(1 + (n % 4))}`.trim()
    return decodeEntry(
      n % 2 === 0
        ? { at, clock: n + 2, event: { _tag: "message.sent", id, topic, text, n: n / 2 + 1 }, out: [] }
        : { at, clock: n + 2, event: { _tag: "message.received", id, from: peer, topic, text, sentAt: at, sentClock: n + 2, n: (n + 1) / 2 }, out: [] },
    )
  }
  await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const log = yield* EventLog
        yield* log.append([decodeEntry({ at: start, clock: 1, event: { _tag: "profile.created", user: me }, out: [] })])
        // Bounded: count / APPEND_BATCH appends.
        for (let first = 0; first < count; first += APPEND_BATCH) {
          yield* log.append(Array.from({ length: Math.min(APPEND_BATCH, count - first) }, (_, i) => entry(first + i)))
        }
      }).pipe(Effect.provide(FileEventLog.layer({ dir }))),
    ),
  )
  return fs.statSync(path.join(dir, LOG_FILE)).size
}

const main = async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mqtt-chat-startup-"))
  const localPort = await freePort()
  const broker = await startEmbeddedBroker({ port: await freePort(), host: "127.0.0.1" })
  const tmux = await TmuxServer.start({ width: 160, height: 48 })
  // What `npm start` runs: built once here if the sources changed.
  await ensureBuilt()
  const t = performance.now()
  const bytes = await writeBigProfile(path.join(dataDir, "profiles", "big"), MESSAGES)
  const writeMs = performance.now() - t
  const bundle = `node dist/chat.mjs --data-dir ${dataDir}`
  const local = `--embedded-port ${localPort}`
  const localRunning = async () => {
    const outcome = await startBroker({ dataDir, port: localPort, passwordFile: null })
    if (outcome.kind === "failed") throw new Error(outcome.message)
  }
  const big = `${MESSAGES.toLocaleString("en")} msgs`
  const scenarios: ReadonlyArray<Scenario> = [
    { name: "baseline: node -e", command: `node -e 'console.log("READY")'`, ready: /^READY$/m, quitKey: null, goal: false },
    { name: "chat bundle, --broker, empty profile", command: `${bundle} --profile empty --broker ${broker.url}`, ready: READY, quitKey: "C-q", goal: true },
    { name: `chat bundle, --broker, ${big}`, command: `${bundle} --profile big --broker ${broker.url}`, ready: READY, quitKey: "C-q", goal: true },
    { name: "chat bundle, local broker running, empty", command: `${bundle} --profile local ${local}`, ready: READY, quitKey: "C-q", before: localRunning, goal: true },
    { name: "chat bundle, local broker not running, empty", command: `${bundle} --profile local ${local}`, ready: READY, quitKey: "C-q", before: async () => void (await stopBroker(dataDir)), goal: true },
    { name: "npm start, local broker running, empty", command: `npm start -- --data-dir ${dataDir} --profile local ${local}`, ready: READY, quitKey: "C-q", before: localRunning, goal: true },
  ]
  const samples = new Map<string, number[]>(scenarios.map((s) => [s.name, []]))
  try {
    await tmux.newWindow("bench", ROOT)
    // Warm-up: creates the profiles (a first launch also writes the profile record) and fills caches.
    for (const scenario of scenarios) await timeOnce(tmux, "bench", scenario)
    for (let run = 0; run < RUNS; run++) {
      for (const scenario of scenarios) samples.get(scenario.name)?.push(await timeOnce(tmux, "bench", scenario))
    }
  } finally {
    await tmux.kill()
    await broker.close()
    await stopBroker(dataDir)
    fs.rmSync(dataDir, { recursive: true, force: true })
  }

  const baseline = percentile(samples.get(scenarios[0]?.name ?? "") ?? [], 50)
  const header = ["launch → interactive", "median ms", "p90 ms", "vs node -e", `< ${GOAL_MS} ms?`]
  const rows = scenarios.map((scenario) => {
    const values = samples.get(scenario.name) ?? []
    const median = percentile(values, 50)
    return [scenario.name, median.toFixed(0), percentile(values, 90).toFixed(0), `${(median / baseline).toFixed(2)}×`, scenario.goal ? (median < GOAL_MS ? "yes" : "NO") : ""]
  })
  console.log(`startup bench: ${RUNS} runs per row after one warm-up (polling the screen every ${POLL_MS} ms); node ${process.version}, ${os.cpus()[0]?.model ?? "cpu?"} ×${os.cpus().length}, load ${os.loadavg()[0]?.toFixed(1)}`)
  console.log(`the ${big} profile: ${(bytes / 1e6).toFixed(1)} MB of log, written in ${(writeMs / 1000).toFixed(1)} s`)
  printTable(header, rows)
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`startup bench failed: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  },
)
