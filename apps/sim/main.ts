/**
 * The simulator's command line: parse, run, print the report.
 *   npm run sim -- --seed 42 --users 50 --steps 20000 [--duplicate 0.05] [--reorder 0.2] [--offline 0.02] [--json] [--no-timing] [--logs DIR]
 * Exit code 0 when every invariant holds, 1 when one fails (or the run breaks a bound), 2 on bad options.
 */
import * as fs from "node:fs"
import { parseSimOptions } from "./options.ts"
import { formatReportJson, formatReportTable } from "./report.ts"
import { simulate } from "./simulation.ts"
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
    process.stderr.write(`sim: ${users.length} logs written under ${dir}\n`)
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
try {
  const { report, users } = simulate(options)
  process.stdout.write(options.json ? formatReportJson(report) : formatReportTable(report))
  const logsWritten = logsDir === undefined || writeLogs(logsDir, users)
  process.exitCode = !report.ok ? EXIT_INVARIANT_FAILED : logsWritten ? 0 : EXIT_USAGE
} catch (error) {
  // A broken bound or internal invariant (a message storm, a disagreement with the cluster).
  process.stderr.write(`sim: the run stopped: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = EXIT_INVARIANT_FAILED
}
