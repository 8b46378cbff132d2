/**
 * Command line of the replay tool: `replay <command> [options] <profile-dir-or-log-file>...`,
 * parsed by hand and validated, with a one-line message for any mistake.
 */

export type ReplayCommand =
  | { readonly command: "check"; readonly target: string }
  | { readonly command: "timeline"; readonly target: string; readonly fromSeq: number; readonly limit: number | undefined }
  | { readonly command: "state"; readonly target: string; readonly atSeq: number | undefined }
  | { readonly command: "merge"; readonly targets: ReadonlyArray<string>; readonly limit: number | undefined }
  | { readonly command: "stats"; readonly target: string }

export type ParsedReplayOptions =
  | { readonly kind: "run"; readonly run: ReplayCommand }
  | { readonly kind: "help"; readonly text: string }
  | { readonly kind: "error"; readonly message: string }

/** Logs merged at once: each holds an open file and a read buffer. */
export const MAX_MERGE_LOGS = 256
/** Sequence numbers and counts are JSON numbers in the log: integers up to 2^53. */
const MAX_COUNT = Number.MAX_SAFE_INTEGER

export const replayUsage = `mqtt-chat replay — read a profile's event log, read-only (works while the chat runs)

Usage: npm run replay -- <command> [options] <profile-dir-or-log-file>
                                        (or: npx tsx apps/replay/main.ts ...)

Commands:
  check <log>                      scan the log: records, sequence gaps, checksum/schema errors with
                                   their byte offsets, a torn tail. Exit 1 if anything is corrupt.
  timeline [--from SEQ] [--limit N] <log>
                                   one line per record: seq, time (UTC), Lamport clock, event, summary
  state [--at SEQ] <log>           the chat state folded from the log (up to SEQ) as JSON
  merge [--limit N] <log> <log>... several users' logs as one timeline in causal order
                                   (Lamport clock, then user id); at most ${MAX_MERGE_LOGS} logs
  stats <log>                      records per event type, messages per conversation

A <log> is a profile directory (holding events.log) or the path of a log file.
Text from the log is made inert for the terminal: escape sequences, control characters and bidi
overrides never reach it (state prints them as JSON \\u escapes).
Exit code: 0 fine, 1 the log is corrupt or cannot be folded, 2 bad arguments or unreadable file.
`

const COMMANDS = ["check", "timeline", "state", "merge", "stats"] as const
type CommandName = (typeof COMMANDS)[number]
const isCommand = (name: string): name is CommandName => (COMMANDS as ReadonlyArray<string>).includes(name)

/** Which value options each command takes. */
const OPTIONS_OF: Readonly<Record<CommandName, ReadonlyArray<string>>> = {
  check: [],
  timeline: ["--from", "--limit"],
  state: ["--at"],
  merge: ["--limit"],
  stats: [],
}

const POSITIVE_INTEGER = /^[0-9]{1,16}$/

const parseCount = (name: string, text: string): number | string => {
  const value = Number(text)
  return POSITIVE_INTEGER.test(text) && value >= 1 && value <= MAX_COUNT ? value : `${name} must be a positive integer, not ${JSON.stringify(text.slice(0, 40))}`
}

export const parseReplayOptions = (argv: ReadonlyArray<string>): ParsedReplayOptions => {
  if (argv.length === 0) return { kind: "error", message: "no command given (check, timeline, state, merge, stats; see --help)" }
  if (argv.some((argument) => argument === "-h" || argument === "--help") || argv[0] === "help") return { kind: "help", text: replayUsage }
  const name = argv[0]!
  if (!isCommand(name)) return { kind: "error", message: `unknown command ${JSON.stringify(name.slice(0, 40))} (check, timeline, state, merge, stats)` }
  const allowed = OPTIONS_OF[name]
  const values = new Map<string, number>()
  const targets: Array<string> = []
  // Each turn consumes one or two arguments: at most argv.length turns.
  for (let i = 1; i < argv.length; i++) {
    const argument = argv[i]!
    if (!argument.startsWith("-") || argument === "-") {
      targets.push(argument)
      continue
    }
    const equals = argument.indexOf("=")
    const option = equals > 0 ? argument.slice(0, equals) : argument
    if (!allowed.includes(option)) {
      const hint = allowed.length === 0 ? "it takes no options" : `it takes ${allowed.join(", ")}`
      return { kind: "error", message: `${name} does not take ${JSON.stringify(option.slice(0, 40))} (${hint})` }
    }
    const text = equals > 0 ? argument.slice(equals + 1) : argv[++i]
    if (text === undefined || text === "") return { kind: "error", message: `${option} needs a value` }
    if (values.has(option)) return { kind: "error", message: `${option} given twice` }
    const value = parseCount(option, text)
    if (typeof value === "string") return { kind: "error", message: value }
    values.set(option, value)
  }
  if (targets.length === 0) return { kind: "error", message: `${name} needs a profile directory or log file` }
  if (name !== "merge" && targets.length > 1) return { kind: "error", message: `${name} reads one log, got ${targets.length}` }
  if (targets.length > MAX_MERGE_LOGS) return { kind: "error", message: `merge reads at most ${MAX_MERGE_LOGS} logs, got ${targets.length}` }
  const target = targets[0]!
  switch (name) {
    case "check":
      return { kind: "run", run: { command: "check", target } }
    case "timeline":
      return { kind: "run", run: { command: "timeline", target, fromSeq: values.get("--from") ?? 1, limit: values.get("--limit") } }
    case "state":
      return { kind: "run", run: { command: "state", target, atSeq: values.get("--at") } }
    case "merge":
      return { kind: "run", run: { command: "merge", targets, limit: values.get("--limit") } }
    case "stats":
      return { kind: "run", run: { command: "stats", target } }
  }
}
