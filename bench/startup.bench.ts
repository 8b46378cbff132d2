/**
 * Time from launching the chat client to an interactive screen, measured the way a person sees
 * it: the command is typed into a terminal (tmux), and the clock stops when the status bar shows
 * the user's id and "connected" — the first moment typing reaches someone.
 *
 * Rows (each RUNS times after one warm-up, median and p90):
 *   baseline node   — `node -e` printing a word: terminal, shell and process start;
 *   baseline tsx    — the same through tsx: what loading TypeScript costs before any app code;
 *   chat, --broker  — the client against a broker already running (aedes in this process);
 *   chat, embedded  — no broker given and none running: the client starts its embedded broker.
 * The ratio column compares each row's median with baseline tsx.
 *
 * Run: npx tsx bench/startup.bench.ts [--runs N]
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { startEmbeddedBroker } from "../adapters/broker/embedded-broker.ts"
import { freePort } from "../tests/support/free-port.ts"
import { TmuxServer } from "../tests/support/tmux.ts"
import { printTable } from "./table.ts"

const ROOT = path.join(import.meta.dirname, "..")
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx")
const READY = /^ user-[0-9]+ +● connected/m
const EXITED = /^EXIT=[0-9]+$/m
const POLL_MS = 10
const TIMEOUT_MS = 30_000

const runsArgument = (): number => {
  const index = process.argv.indexOf("--runs")
  const value = index >= 0 ? Number(process.argv[index + 1]) : 7
  if (!Number.isInteger(value) || value < 1) throw new Error("--runs needs a positive integer")
  return value
}
const RUNS = runsArgument()

interface Scenario {
  readonly name: string
  readonly command: string
  readonly ready: RegExp
  /** How to leave the program once ready (a key), or null when it exits by itself. */
  readonly quitKey: string | null
}

/** Types `command` with an exit marker, returns ms until `ready` shows; then waits for the exit. */
const timeOnce = async (tmux: TmuxServer, window: string, scenario: Scenario): Promise<number> => {
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

const main = async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mqtt-chat-startup-"))
  const broker = await startEmbeddedBroker({ port: await freePort(), host: "127.0.0.1" })
  const embeddedPort = await freePort()
  const tmux = await TmuxServer.start({ width: 160, height: 48 })
  const chat = `${TSX} apps/chat/main.ts --data-dir ${dataDir}`
  // What `npm start` runs: our code bundled by esbuild (built once here), node_modules as they are.
  execFileSync("npm", ["run", "-s", "build"], { cwd: ROOT, stdio: "inherit" })
  const bundle = `node dist/chat.mjs --data-dir ${dataDir}`
  const scenarios: ReadonlyArray<Scenario> = [
    { name: "baseline node (node -e)", command: `node -e 'console.log("READY")'`, ready: /^READY$/m, quitKey: null },
    { name: "baseline tsx (tsx -e)", command: `${TSX} -e 'console.log("READY")'`, ready: /^READY$/m, quitKey: null },
    { name: "chat, --broker (running)", command: `${chat} --profile external --broker ${broker.url}`, ready: READY, quitKey: "C-q" },
    { name: "chat, embedded broker", command: `${chat} --profile embedded --embedded-port ${embeddedPort}`, ready: READY, quitKey: "C-q" },
    { name: "npm start bundle, --broker", command: `${bundle} --profile bundled --broker ${broker.url}`, ready: READY, quitKey: "C-q" },
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
    fs.rmSync(dataDir, { recursive: true, force: true })
  }

  const baseline = percentile(samples.get(scenarios[1]?.name ?? "") ?? [], 50)
  const header = ["launch → interactive", "median ms", "p90 ms", "vs tsx baseline"]
  const rows = scenarios.map((scenario) => {
    const values = samples.get(scenario.name) ?? []
    const median = percentile(values, 50)
    return [scenario.name, median.toFixed(0), percentile(values, 90).toFixed(0), `${(median / baseline).toFixed(2)}×`]
  })
  console.log(`startup bench: ${RUNS} runs per row after one warm-up (polling the screen every ${POLL_MS} ms); node ${process.version}, ${os.cpus()[0]?.model ?? "cpu?"} ×${os.cpus().length}`)
  printTable(header, rows)
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`startup bench failed: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  },
)
