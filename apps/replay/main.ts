/**
 * The replay tool's command line: `npm run replay -- <command> [options] <profile-dir-or-log-file>...`.
 * Read-only: it never takes a profile's lock, so it works while the chat runs.
 */
import { performance } from "node:perf_hooks"
import { audit } from "./audit-command.ts"
import { check, EXIT_USAGE, stats, timeline, type Output } from "./commands.ts"
import { diagram } from "./diagram.ts"
import { merge } from "./merge.ts"
import { parseReplayOptions, type ReplayCommand } from "./options.ts"
import { ProgressLine } from "./progress.ts"
import { state } from "./state-command.ts"
import { view } from "./view.ts"

// `replay … | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0)
  throw error
})

/** On a terminal only (progress.ts): a pipe or a file gets warnings and errors, never progress. */
const progressLine = new ProgressLine(process.stderr, () => performance.now())
const clearProgress = (): void => progressLine.clear()

/** Lines are written in batches of this many characters: a 100,000-line timeline is not 100,000 writes. */
const FLUSH_CHARS = 64 * 1024
let pending: Array<string> = []
let pendingChars = 0
const flush = (): void => {
  if (pending.length === 0) return
  // On one terminal, results must not land on the progress line.
  clearProgress()
  process.stdout.write(pending.join(""))
  pending = []
  pendingChars = 0
}

const terminal: Output = {
  line: (text) => {
    pending.push(`${text}\n`)
    pendingChars += text.length + 1
    if (pendingChars >= FLUSH_CHARS) flush()
  },
  note: (text) => {
    flush()
    clearProgress()
    process.stderr.write(`${text}\n`)
  },
  progress: (what, done, total) => progressLine.report(what, done, total),
}

const run = async (command: ReplayCommand): Promise<number> => {
  switch (command.command) {
    case "check":
      return check(command.target, terminal)
    case "timeline":
      return timeline(command.target, command, terminal)
    case "state":
      return state(command.target, command, terminal)
    case "merge":
      return merge(command.targets, command, terminal)
    case "stats":
      return stats(command.target, command.filter, command.json, terminal)
    case "diagram":
      return diagram(command.targets, command, terminal)
    case "audit":
      return audit(command.targets, command, terminal)
    case "view":
      clearProgress()
      return view(command.target, command.at, terminal)
  }
}

const parsed = parseReplayOptions(process.argv.slice(2))
if (parsed.kind === "help") {
  process.stdout.write(parsed.text)
} else if (parsed.kind === "error") {
  process.stderr.write(`replay: ${parsed.message}\n`)
  process.exitCode = EXIT_USAGE
} else {
  try {
    process.exitCode = await run(parsed.run)
    clearProgress()
    flush()
  } catch (error) {
    clearProgress()
    flush()
    // I/O failures while reading (the file vanished, EIO): one line, not a stack trace.
    process.stderr.write(`replay: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = EXIT_USAGE
  }
}
