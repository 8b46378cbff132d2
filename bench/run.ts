/**
 * Runs the benchmarks one after another, each in its own process (a fresh heap and JIT, and no
 * bench disturbing another), printing each one's tables as they come, then a summary.
 *
 *   npm run bench                 every bench/*.bench.ts: core, startup, history first, then any other
 *   npm run bench -- core history only those
 *
 * Exit code 1 if a bench failed or ran out of time, 2 if a name matches no bench.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { formatNumber, renderTable } from "../apps/sim/text-table.ts"

const BENCH_DIR = import.meta.dirname
const SUFFIX = ".bench.ts"
/** Known benches run in this order; others follow by name. */
const PREFERRED_ORDER = ["core", "startup", "history"]
/** A bench that runs longer than this is stopped and counted as failed. */
const TIMEOUT_MS = 10 * 60 * 1000

const available = (): ReadonlyArray<string> =>
  fs.readdirSync(BENCH_DIR)
    .filter((file) => file.endsWith(SUFFIX))
    .map((file) => file.slice(0, -SUFFIX.length))
    .sort((a, b) => {
      const rank = (name: string) => (PREFERRED_ORDER.includes(name) ? PREFERRED_ORDER.indexOf(name) : PREFERRED_ORDER.length)
      return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0)
    })

interface Outcome {
  readonly name: string
  readonly status: string
  readonly ms: number
}

/** Runs one bench file through tsx with the terminal as its output. */
const runBench = (name: string): Promise<Outcome> =>
  new Promise((resolve) => {
    const started = performance.now()
    const child = spawn(process.execPath, ["--import", "tsx", path.join(BENCH_DIR, `${name}${SUFFIX}`)], { stdio: "inherit", timeout: TIMEOUT_MS })
    const done = (status: string) => resolve({ name, status, ms: performance.now() - started })
    child.on("error", (error) => done(`could not start: ${error.message}`))
    child.on("exit", (code, signal) => done(code === 0 ? "ok" : signal !== null ? `stopped (${signal}${signal === "SIGTERM" ? ", over the time limit" : ""})` : `failed (exit ${code})`))
  })

const main = async (): Promise<number> => {
  const names = available()
  const wanted = process.argv.slice(2)
  const unknown = wanted.filter((name) => !names.includes(name))
  if (unknown.length > 0) {
    console.error(`bench: no bench named ${unknown.join(", ")} (available: ${names.join(", ")})`)
    return 2
  }
  const selected = wanted.length === 0 ? names : names.filter((name) => wanted.includes(name))
  const outcomes: Array<Outcome> = []
  for (const name of selected) {
    console.log(`\n=== bench/${name}${SUFFIX} ===`)
    outcomes.push(await runBench(name))
  }
  console.log(`\n${renderTable(outcomes.map((o) => [o.name, o.status, formatNumber(o.ms / 1000, 1)]), { title: "benchmarks run", headers: ["bench", "status", "seconds"] })}`)
  return outcomes.every((o) => o.status === "ok") ? 0 : 1
}

process.exitCode = await main()
