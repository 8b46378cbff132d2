/**
 * Start-up, two ways (issue 8 part 5, issue 9 item 4). Goals: launch → connected under 500 ms with
 * an empty profile, a 100,000-message and a 1,000,000-message one, in under 150 MB; the newest 100
 * messages of a conversation in under 50 ms.
 *
 * 1. Opening a profile, in a process of its own (bench/startup-open.child.ts, bundled with esbuild
 *    here so that its RSS is node's and the code's, not tsx's): the file log and the profile's
 *    state, from the snapshot and the tail or from the whole log, then the newest 100 messages.
 *    Baselines of the same run: the same process started idle (RSS), and reading the same log in
 *    1 MiB chunks with a JSON.parse of every record (the least a full start could do).
 * 2. Launch → interactive, measured the way a person sees it: the command is typed into a terminal
 *    (tmux), and the clock stops when the status bar shows the user's id and "connected". Each
 *    launch runs under /usr/bin/time for its peak RSS. Baseline: `node -e` printing a word.
 *    Rows: the bundle (`node dist/chat.mjs`, what `npm start` runs) against a broker already
 *    running (--broker, aedes in this process) with each profile, with and without its snapshot;
 *    the data directory's local broker running or not; `npm start` as typed.
 *
 * The big profiles (one conversation; bench/startup-profiles.ts) are written once into a temp
 * directory with the record codec, their snapshot beside them, and removed at the end. The
 * 1,000,000-message profile without its snapshot takes about a minute to open: left out unless
 * --full-1m.
 *
 * Run: npm run bench -- startup   (or npx tsx bench/startup.bench.ts [--runs N] [--full-1m])
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { promisify } from "node:util"
import { Schema } from "effect"
import { startEmbeddedBroker } from "../adapters/broker/embedded-broker.ts"
import { SNAPSHOT_FILE } from "../adapters/storage/snapshot-file.ts"
import { startBroker, stopBroker } from "../apps/broker/control.ts"
import { freePort } from "../tests/support/free-port.ts"
import { TmuxServer } from "../tests/support/tmux.ts"
import { ensureBuilt } from "../bin/build.mjs"
import { writeMessageProfile, type WrittenProfile } from "./startup-profiles.ts"
import { median, percentile } from "./stats.ts"
import { printTable } from "./table.ts"

const ROOT = path.join(import.meta.dirname, "..")
const READY = /^ user-[0-9]+ +● connected/m
const EXITED = /^EXIT=[0-9]+$/m
const MAX_RSS = /MAXRSS=([0-9]+)kB/
const POLL_MS = 10
const TIMEOUT_MS = 120_000
const GOAL_MS = 500
const GOAL_RSS_MB = 150
const GOAL_HISTORY_MS = 50
const SNAPSHOT_BACKUP = "events.snapshot.bench"

const argument = (name: string, fallback: number): number => {
  const index = process.argv.indexOf(name)
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} needs a positive integer`)
  return value
}
const RUNS = argument("--runs", 3)
/** Rows that replay a whole 100,000-message log take seconds each: fewer runs. */
const SLOW_RUNS = Math.min(RUNS, 2)
const FULL_1M = process.argv.includes("--full-1m")

const mb = (bytes: number) => (bytes / 1e6).toFixed(0)
const ratio = (value: number, base: number) => (Number.isFinite(base) && base > 0 ? `${(value / base).toFixed(2)}×` : "")

// --- the profiles

interface Profiles {
  readonly dataDir: string
  readonly big: ReadonlyArray<{ readonly name: string; readonly label: string; readonly written: WrittenProfile }>
}

const profileDir = (dataDir: string, name: string) => path.join(dataDir, "profiles", name)

/** Puts the profile's generated snapshot back (with) or removes any (without). */
const setSnapshot = (dir: string, present: boolean): void => {
  const file = path.join(dir, SNAPSHOT_FILE)
  fs.rmSync(file, { force: true })
  if (present) fs.copyFileSync(path.join(dir, SNAPSHOT_BACKUP), file)
}

const writeProfiles = async (dataDir: string): Promise<Profiles> => {
  const big = []
  for (const [name, count] of [["m100k", 100_000], ["m1m", 1_000_000]] as const) {
    const written = await writeMessageProfile(profileDir(dataDir, name), count, SNAPSHOT_BACKUP)
    big.push({ name, label: `${count.toLocaleString("en")} msgs`, written })
  }
  return { dataDir, big }
}

// --- part 1: opening, in a child process

const OpenResult = Schema.Struct({ ms: Schema.Number, historyMs: Schema.optional(Schema.Number), rss: Schema.Number, detail: Schema.String })
const decodeOpenResult = Schema.decodeUnknownSync(Schema.fromJsonString(OpenResult))
const run = promisify(execFile)

/** The child, bundled once: plain node, no tsx in the process whose memory is measured. */
const bundleChild = async (outDir: string): Promise<string> => {
  const esbuild = await import("esbuild")
  const outfile = path.join(outDir, "startup-open.child.mjs")
  await esbuild.build({
    entryPoints: [path.join(import.meta.dirname, "startup-open.child.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    outfile,
    logLevel: "error",
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  })
  return outfile
}

const child = async (script: string, mode: "open" | "json" | "idle", dir: string) => {
  const { stdout } = await run(process.execPath, [script, mode, dir], { timeout: TIMEOUT_MS, maxBuffer: 1024 * 1024 })
  return decodeOpenResult(stdout.trim())
}

interface OpenRow {
  readonly name: string
  readonly runs: number
  readonly mode: "open" | "json" | "idle"
  readonly dir: string
  readonly before?: () => void
  /** The row whose median this row's is compared with (the JSON.parse of the same log). */
  readonly baseline?: string
  readonly goal: boolean
}

const measureOpening = async (script: string, profiles: Profiles) => {
  const empty = profileDir(profiles.dataDir, "open-empty")
  const rows: Array<OpenRow> = [
    { name: "baseline: the child started idle", runs: RUNS, mode: "idle", dir: empty, goal: false },
    { name: "empty profile", runs: RUNS, mode: "open", dir: empty, goal: true },
  ]
  for (const { name, label, written } of profiles.big) {
    const dir = written.dir
    const json = `baseline: JSON.parse of the ${label} log`
    rows.push({ name: json, runs: name === "m1m" ? 1 : SLOW_RUNS, mode: "json", dir, goal: false })
    rows.push({ name: `${label}, snapshot`, runs: RUNS, mode: "open", dir, before: () => setSnapshot(dir, true), baseline: json, goal: true })
    if (name !== "m1m" || FULL_1M) rows.push({ name: `${label}, no snapshot (whole log)`, runs: name === "m1m" ? 1 : SLOW_RUNS, mode: "open", dir, before: () => setSnapshot(dir, false), baseline: json, goal: false })
  }
  const results = new Map<string, Array<Schema.Schema.Type<typeof OpenResult>>>()
  for (const row of rows) {
    const samples = []
    for (let i = 0; i < row.runs; i++) {
      row.before?.()
      samples.push(await child(script, row.mode, row.dir))
    }
    results.set(row.name, samples)
  }
  for (const { written } of profiles.big) setSnapshot(written.dir, true)
  const idleRss = Math.max(...(results.get(rows[0]!.name) ?? []).map((r) => r.rss))
  printTable(
    ["open the profile (in-process)", "runs", "median ms", "vs JSON.parse", "newest 100 ms", "peak RSS MB", "RSS − idle MB", "goals?", "how"],
    rows.map((row) => {
      const samples = results.get(row.name) ?? []
      const ms = median(samples.map((s) => s.ms))
      const base = row.baseline === undefined ? Number.NaN : median((results.get(row.baseline) ?? []).map((s) => s.ms))
      const history = samples.map((s) => s.historyMs).filter((h) => h !== undefined)
      const historyMs = history.length === 0 ? Number.NaN : median(history)
      const rss = Math.max(...samples.map((s) => s.rss))
      const goals = row.goal ? (ms < GOAL_MS && rss / 1e6 < GOAL_RSS_MB && !(historyMs >= GOAL_HISTORY_MS) ? "yes" : "NO") : ""
      return [row.name, String(row.runs), ms.toFixed(0), ratio(ms, base), Number.isNaN(historyMs) ? "" : historyMs.toFixed(1), mb(rss), row.mode === "idle" ? "" : mb(rss - idleRss), goals, samples[0]?.detail.slice(0, 60) ?? ""]
    }),
  )
}

// --- part 2: launch → interactive, in a terminal

interface Scenario {
  readonly name: string
  readonly command: string
  readonly ready: RegExp
  /** How to leave the program once ready (a key), or null when it exits by itself. */
  readonly quitKey: string | null
  /** Run before each launch (not timed). */
  readonly before?: () => Promise<void> | void
  readonly runs: number
  /** Whether the goal applies to this row. */
  readonly goal: boolean
}

/** Types `command` (under /usr/bin/time) with an exit marker; ms until `ready` shows, and the peak RSS. */
const timeOnce = async (tmux: TmuxServer, window: string, scenario: Scenario): Promise<{ readonly ms: number; readonly rssKb: number }> => {
  await scenario.before?.()
  await tmux.line(window, "clear")
  await tmux.waitFor(window, "a clear screen", (screen) => !EXITED.test(screen))
  await tmux.type(window, `/usr/bin/time -f 'MAXRSS=%MkB' ${scenario.command}; echo "EXIT=$?"`)
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
  const ms = performance.now() - started
  if (scenario.quitKey !== null) await tmux.keys(window, scenario.quitKey)
  const after = await tmux.waitFor(window, `${scenario.name} exits`, EXITED, TIMEOUT_MS)
  return { ms, rssKb: Number(MAX_RSS.exec(after)?.[1] ?? Number.NaN) }
}

const measureLaunch = async (profiles: Profiles) => {
  const { dataDir } = profiles
  const localPort = await freePort()
  const broker = await startEmbeddedBroker({ port: await freePort(), host: "127.0.0.1" })
  const tmux = await TmuxServer.start({ width: 160, height: 48 })
  const bundle = `node dist/chat.mjs --data-dir ${dataDir}`
  const local = `--embedded-port ${localPort}`
  const localRunning = async () => {
    const outcome = await startBroker({ dataDir, port: localPort, passwordFile: null })
    if (outcome.kind === "failed") throw new Error(outcome.message)
  }
  const scenarios: Array<Scenario> = [
    { name: "baseline: node -e", command: `node -e 'console.log("READY")'`, ready: /^READY$/m, quitKey: null, runs: RUNS, goal: false },
    { name: "chat bundle, --broker, empty profile", command: `${bundle} --profile empty --broker ${broker.url}`, ready: READY, quitKey: "C-q", runs: RUNS, goal: true },
  ]
  for (const { name, label, written } of profiles.big) {
    const command = `${bundle} --profile ${name} --broker ${broker.url}`
    // The chat writes its own snapshot when it quits: the "with" rows start from the last one.
    scenarios.push({ name: `chat bundle, --broker, ${label}, snapshot`, command, ready: READY, quitKey: "C-q", before: () => setSnapshot(written.dir, true), runs: RUNS, goal: true })
    if (name !== "m1m" || FULL_1M) {
      scenarios.push({ name: `chat bundle, --broker, ${label}, no snapshot`, command, ready: READY, quitKey: "C-q", before: () => setSnapshot(written.dir, false), runs: name === "m1m" ? 1 : SLOW_RUNS, goal: false })
    }
  }
  scenarios.push(
    { name: "chat bundle, local broker running, empty", command: `${bundle} --profile local ${local}`, ready: READY, quitKey: "C-q", before: localRunning, runs: RUNS, goal: true },
    { name: "chat bundle, local broker not running, empty", command: `${bundle} --profile local ${local}`, ready: READY, quitKey: "C-q", before: async () => void (await stopBroker(dataDir)), runs: RUNS, goal: true },
    { name: "npm start, local broker running, empty", command: `npm start -- --data-dir ${dataDir} --profile local ${local}`, ready: READY, quitKey: "C-q", before: localRunning, runs: RUNS, goal: true },
  )
  const samples = new Map<string, Array<{ readonly ms: number; readonly rssKb: number }>>(scenarios.map((s) => [s.name, []]))
  try {
    await tmux.newWindow("bench", ROOT)
    // Warm-up: creates the small profiles (a first launch writes the profile record and the
    // identity) and fills caches. Not the slow rows: their first run is like every other.
    for (const scenario of scenarios) if (scenario.runs === RUNS) await timeOnce(tmux, "bench", scenario)
    for (let run = 0; run < RUNS; run++) {
      for (const scenario of scenarios) if (run < scenario.runs) samples.get(scenario.name)?.push(await timeOnce(tmux, "bench", scenario))
    }
  } finally {
    await tmux.kill()
    await broker.close()
    await stopBroker(dataDir)
  }
  const baseline = median(samples.get(scenarios[0]!.name)?.map((s) => s.ms) ?? [])
  printTable(
    ["launch → interactive", "runs", "median ms", "p90 ms", "vs node -e", "peak RSS MB", `< ${GOAL_MS} ms, < ${GOAL_RSS_MB} MB?`],
    scenarios.map((scenario) => {
      const values = samples.get(scenario.name) ?? []
      const ms = median(values.map((v) => v.ms))
      const rssMb = Math.max(...values.map((v) => v.rssKb)) / 1000
      return [scenario.name, String(values.length), ms.toFixed(0), percentile(values.map((v) => v.ms), 90).toFixed(0), ratio(ms, baseline), rssMb.toFixed(0), scenario.goal ? (ms < GOAL_MS && rssMb < GOAL_RSS_MB ? "yes" : "NO") : ""]
    }),
  )
}

const main = async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mqtt-chat-startup-"))
  try {
    // What `npm start` runs: built once here if the sources changed.
    await ensureBuilt()
    const script = await bundleChild(dataDir)
    const profiles = await writeProfiles(dataDir)
    console.log(`startup bench: node ${process.version}, ${os.hostname()}, ${os.cpus()[0]?.model ?? "cpu?"} ×${os.cpus().length}, load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`)
    for (const { label, written } of profiles.big) {
      console.log(`the ${label} profile: ${mb(written.logBytes)} MB of log, ${mb(written.snapshotBytes)} MB of snapshot, written in ${(written.ms / 1000).toFixed(1)} s`)
    }
    await measureOpening(script, profiles)
    await measureLaunch(profiles)
    console.log(`load at the end ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`)
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`startup bench failed: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  },
)
