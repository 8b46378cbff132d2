/**
 * The simulator's command line: parse, run, print the report.
 *   npm run sim -- --seed 42 --users 50 --steps 20000 [--duplicate 0.05] [--reorder 0.2] [--offline 0.02] [--crash 0.01] [--json] [--no-timing] [--logs DIR]
 * On a terminal, a progress line on stderr (a pipe sees none); Ctrl-C stops the run where it is and
 * prints the report so far and the seed. A failed invariant prints the seed and writes the logs
 * (to --logs DIR, or a new directory under the system's temp dir).
 * Exit code 0 when every invariant holds, 1 when one fails (or the run breaks a bound, or is interrupted), 2 on bad options.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseSimOptions } from "./options.ts"
import { formatReportJson, formatReportTable } from "./report.ts"
import { simulate, type SimProgress } from "./simulation.ts"
import { writeUserLogs } from "./write-logs.ts"

const EXIT_INVARIANT_FAILED = 1
const EXIT_USAGE = 2

const parsed = parseSimOptions(process.argv.slice(2))
if (parsed.kind === "help") {
  process.stdout.write(parsed.text)
  process.exit(0)
}
if (parsed.kind === "error") {
  process.stderr.write(`sim: ${parsed.message}\n`)
  process.exit(EXIT_USAGE)
}
/** Written whatever the outcome: the logs of a failing run are the ones worth reading. */
const writeLogs = (dir: string, users: Parameters<typeof writeUserLogs>[1]): boolean => {
  try {
    writeUserLogs(dir, users)
    process.stderr.write(`sim: ${users.length} logs written under ${dir} (npm run replay -- audit ${dir}/*)\n`)
    return true
  } catch (error) {
    process.stderr.write(`sim: could not write the logs: ${error instanceof Error ? error.message : String(error)}\n`)
    return false
  }
}

const options = parsed.options
const logsDir = options.logsDir
if (logsDir !== undefined && fs.existsSync(logsDir) && (!fs.statSync(logsDir).isDirectory() || fs.readdirSync(logsDir).length > 0)) {
  process.stderr.write(`sim: --logs ${logsDir} must be a new or empty directory\n`)
  process.exit(EXIT_USAGE)
}

/** The progress line, rewritten in place; only on a terminal, so pipes and files stay clean. */
const showProgress = process.stderr.isTTY === true
const wallStart = performance.now()
const progress = (p: SimProgress): void => {
  if (!showProgress) return
  const seconds = (performance.now() - wallStart) / 1000
  const eventsPerSecond = seconds > 0 ? Math.round(p.events / seconds) : 0
  const eta = p.step > 0 ? Math.round((seconds * (p.steps - p.step)) / p.step) : 0
  process.stderr.write(`\r\u001b[2Ksim: step ${p.step}/${p.steps}, ${(p.simulatedMs / 60_000).toFixed(1)} simulated min, ${p.sent} messages sent, ${p.deliveries} deliveries, ${eventsPerSecond} events/s, ETA ${eta} s`)
}
let stopRequested = false
process.on("SIGINT", () => {
  if (stopRequested) process.exit(130)
  stopRequested = true
  process.stderr.write(`\nsim: interrupted (seed ${options.seed}); finishing the report so far — Ctrl-C again to quit at once\n`)
})

try {
  const { report, users } = await simulate(options, { progress, stopRequested: () => stopRequested })
  if (showProgress) process.stderr.write("\r\u001b[2K")
  process.stdout.write(options.json ? formatReportJson(report) : formatReportTable(report))
  const failed = !report.ok && report.interruptedAtStep === undefined
  if (failed) process.stderr.write(`sim: an invariant failed with seed ${options.seed}: npm run sim -- --seed ${options.seed} --users ${options.users} --steps ${options.steps} reproduces it\n`)
  const dir = logsDir ?? (failed ? fs.mkdtempSync(path.join(os.tmpdir(), `mqtt-chat-sim-${options.seed}-`)) : undefined)
  const logsWritten = dir === undefined || writeLogs(dir, users)
  process.exitCode = !report.ok ? EXIT_INVARIANT_FAILED : logsWritten ? 0 : EXIT_USAGE
} catch (error) {
  // A broken bound (a message storm, a service that never settles) or a start that failed.
  process.stderr.write(`sim: the run stopped (seed ${options.seed}): ${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = EXIT_INVARIANT_FAILED
}
process.exit()
