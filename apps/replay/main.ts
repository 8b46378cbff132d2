/**
 * The replay tool's command line: `npm run replay -- <command> [options] <profile-dir-or-log-file>`.
 * Read-only: it never takes the profile's lock, so it works while the chat runs.
 */
import { check, EXIT_USAGE, merge, state, stats, timeline, type Output } from "./commands.ts"
import { parseReplayOptions, type ReplayCommand } from "./options.ts"

// `replay … | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0)
  throw error
})

/** Lines are written in batches of this many characters: a 100,000-line timeline is not 100,000 writes. */
const FLUSH_CHARS = 64 * 1024
let pending: Array<string> = []
let pendingChars = 0
const flush = (): void => {
  if (pending.length === 0) return
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
    process.stderr.write(`${text}\n`)
  },
}

const run = (command: ReplayCommand): number => {
  switch (command.command) {
    case "check":
      return check(command.target, terminal)
    case "timeline":
      return timeline(command.target, command.fromSeq, command.limit, terminal)
    case "state":
      return state(command.target, command.atSeq, terminal)
    case "merge":
      return merge(command.targets, command.limit, terminal)
    case "stats":
      return stats(command.target, terminal)
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
    process.exitCode = run(parsed.run)
    flush()
  } catch (error) {
    flush()
    // I/O failures while reading (the file vanished, EIO): one line, not a stack trace.
    process.stderr.write(`replay: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = EXIT_USAGE
  }
}
