/**
 * Command line of the replay tool: `replay <command> [options] <profile-dir-or-log-file>...`,
 * parsed by hand and validated, with a one-line message for any mistake.
 */
import { Schema } from "effect"
import { GroupName, UserId } from "../../domain/ids.ts"
import { NO_FILTER, normaliseEventPattern, parseBound, parseList, type Bound, type RecordFilter } from "./filter.ts"

export type ReplayCommand =
  | { readonly command: "check"; readonly target: string }
  | { readonly command: "timeline"; readonly target: string; readonly fromSeq: number; readonly limit: number | undefined; readonly filter: RecordFilter; readonly json: boolean }
  | { readonly command: "state"; readonly target: string; readonly at: Bound | undefined; readonly diff: boolean; readonly json: boolean; readonly raw: boolean }
  | { readonly command: "merge"; readonly targets: ReadonlyArray<string>; readonly limit: number | undefined; readonly filter: RecordFilter; readonly json: boolean }
  | { readonly command: "stats"; readonly target: string; readonly filter: RecordFilter; readonly json: boolean }
  | { readonly command: "diagram"; readonly targets: ReadonlyArray<string>; readonly limit: number; readonly filter: RecordFilter; readonly format: "mermaid" | "svg" }
  | { readonly command: "audit"; readonly targets: ReadonlyArray<string>; readonly filter: RecordFilter; readonly json: boolean; readonly limit: number }
  | { readonly command: "view"; readonly target: string; readonly at: Bound | undefined }

export type ParsedReplayOptions =
  | { readonly kind: "run"; readonly run: ReplayCommand }
  | { readonly kind: "help"; readonly text: string }
  | { readonly kind: "error"; readonly message: string }

/** Logs read at once: each holds an open file and a read buffer. */
export const MAX_MERGE_LOGS = 256
/** Sequence numbers and counts are JSON numbers in the log: integers up to 2^53. */
const MAX_COUNT = Number.MAX_SAFE_INTEGER
/** Arrows and notes in a diagram unless --limit says otherwise: past a few hundred nobody reads one. */
export const DEFAULT_DIAGRAM_ITEMS = 300
export const MAX_DIAGRAM_ITEMS = 5000
/** Missing deliveries explained one by one by default; the rest are counted. */
export const DEFAULT_AUDIT_LISTED = 50

export const replayUsage = `mqtt-chat replay — read profiles' event logs, read-only (works while the chat runs)

Usage: npm run replay -- <command> [options] <profile-dir-or-log-file>...
                                        (or: npx tsx apps/replay/main.ts ...)

Commands:
  check <log>                      scan the log: records, sequence gaps, checksum/schema errors with
                                   their byte offsets, a torn tail. Exit 1 if anything is corrupt.
  timeline [filters] [--from SEQ] [--limit N] [--json] <log>
                                   one line per record: seq, time (UTC), Lamport clock, event, summary
  state [--at SEQ|TIME] [--diff] [--json] [--raw] <log>
                                   what the user's chat knew at that record: who is online, each
                                   conversation's stance, each group's members, requests, unread,
                                   held messages, the outbox. --diff: what the record at SEQ changed.
                                   --raw: the whole folded state as JSON (machine snapshots included)
  merge [filters] [--limit N] [--json] <log> <log>...
                                   several users' logs as one timeline in causal order (Lamport
                                   clock, then user id); at most ${MAX_MERGE_LOGS} logs
  stats [filters] [--json] <log>   records per event type, messages per conversation
  diagram [filters] [--limit N] [--format mermaid|svg] <log>...
                                   a Mermaid sequence diagram of one or several logs: users as
                                   participants, requests, answers, group updates and messages as
                                   arrows (a cross: never received), holds and time-outs as notes;
                                   at most --limit arrows and notes (default ${DEFAULT_DIAGRAM_ITEMS}); --format svg
                                   draws the same diagram as a standalone SVG picture
  audit [filters] [--limit N] [--json] <log> <log>...
                                   for every message sent, who received it and when; for each
                                   expected receiver that did not, what each side's log says last.
                                   Exit 1 if a delivery is missing
  view [--at SEQ|TIME] <log>       the chat screen, read-only, as it was at a record (default: the
                                   last); keys step through the log (? in the view lists them)

Filters (timeline, merge, stats, diagram; audit all but --event; values may be comma lists):
  --topic T     records on topic T (a talk topic 12345_67890_talk, group_NAME_talk, …)
  --peer USER   records about USER: its presence, requests, answers, the pair's messages
  --group NAME  records about the group: its information, joins, members, messages
  --event TAG   records of these event types; message.* (or message.) for a family
  --since X, --until X
                from / up to X: a sequence number (in merge, diagram, audit: a Lamport clock) or an
                ISO time (2026-11-25, 2026-11-25T17:51, …Z; UTC unless a zone is given)

A <log> is a profile directory (holding events.log) or the path of a log file.
Text from the log is made inert for the terminal: escape sequences, control characters and bidi
overrides never reach it (JSON output writes them as \\u escapes). Group keys are never printed.
Exit code: 0 fine, 1 the log is corrupt or cannot be folded (audit: a delivery is missing),
2 bad arguments or unreadable file.
`

const COMMANDS = ["check", "timeline", "state", "merge", "stats", "diagram", "audit", "view"] as const
type CommandName = (typeof COMMANDS)[number]
const isCommand = (name: string): name is CommandName => (COMMANDS as ReadonlyArray<string>).includes(name)
const COMMAND_LIST = COMMANDS.join(", ")

const FILTERS = ["--topic", "--peer", "--group", "--event", "--since", "--until"] as const
const FLAGS = new Set(["--json", "--diff", "--raw"])

/** Which options each command takes. */
const OPTIONS_OF: Readonly<Record<CommandName, ReadonlyArray<string>>> = {
  check: [],
  timeline: [...FILTERS, "--from", "--limit", "--json"],
  state: ["--at", "--diff", "--json", "--raw"],
  merge: [...FILTERS, "--limit", "--json"],
  stats: [...FILTERS, "--json"],
  diagram: [...FILTERS, "--limit", "--format"],
  audit: ["--topic", "--peer", "--group", "--since", "--until", "--limit", "--json"],
  view: ["--at"],
}

/** Commands that read several logs. */
const MANY_LOGS: ReadonlySet<CommandName> = new Set(["merge", "diagram", "audit"])

const POSITIVE_INTEGER = /^[0-9]{1,16}$/

const parseCount = (name: string, text: string): number | string => {
  const value = Number(text)
  return POSITIVE_INTEGER.test(text) && value >= 1 && value <= MAX_COUNT ? value : `${name} must be a positive integer, not ${JSON.stringify(text.slice(0, 40))}`
}

const isUser = Schema.is(UserId)
const isGroup = Schema.is(GroupName)
const isEventPattern = (value: string): boolean => /^[a-z][a-z.-]{0,60}(\.\*)?$/.test(value)
/** Topics as the chat builds them: no wildcards, no NUL, bounded. */
const isTopic = (value: string): boolean => value.length <= 200 && !/[+#\u0000]/.test(value)

type Values = Map<string, string | true>

const filterOf = (values: Values): RecordFilter | string => {
  let filter: RecordFilter = NO_FILTER
  const text = (name: string) => values.get(name) as string | undefined
  const lists = [
    ["--topic", "topics", isTopic, "a topic"],
    ["--peer", "peers", isUser, "a user id (user-NNNNN)"],
    ["--group", "groups", isGroup, "a group name"],
    ["--event", "events", isEventPattern, "an event type (message.received, message.*)"],
  ] as const
  for (const [name, field, valid, what] of lists) {
    const value = text(name)
    if (value === undefined) continue
    const parsed = parseList(name, value, valid, what)
    if (typeof parsed === "string") return parsed
    filter = { ...filter, [field]: field === "events" ? parsed.map(normaliseEventPattern) : parsed }
  }
  for (const name of ["--since", "--until"] as const) {
    const value = text(name)
    if (value === undefined) continue
    const bound = parseBound(name, value)
    if (typeof bound === "string") return bound
    filter = { ...filter, [name === "--since" ? "since" : "until"]: bound }
  }
  return filter
}

const countOption = (values: Values, name: string): number | undefined | string => {
  const text = values.get(name)
  return typeof text === "string" ? parseCount(name, text) : undefined
}

/** Splits argv into option values and targets, checking each option belongs to the command. */
const collect = (name: CommandName, argv: ReadonlyArray<string>): { values: Values; targets: Array<string> } | string => {
  const allowed = OPTIONS_OF[name]
  const values: Values = new Map()
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
      return `${name} does not take ${JSON.stringify(option.slice(0, 40))} (${hint})`
    }
    if (values.has(option)) return `${option} given twice`
    if (FLAGS.has(option)) {
      if (equals > 0) return `${option} takes no value`
      values.set(option, true)
      continue
    }
    const text = equals > 0 ? argument.slice(equals + 1) : argv[++i]
    if (text === undefined || text === "") return `${option} needs a value`
    values.set(option, text)
  }
  return { values, targets }
}

export const parseReplayOptions = (argv: ReadonlyArray<string>): ParsedReplayOptions => {
  const error = (message: string): ParsedReplayOptions => ({ kind: "error", message })
  if (argv.length === 0) return error(`no command given (${COMMAND_LIST}; see --help)`)
  if (argv.some((argument) => argument === "-h" || argument === "--help") || argv[0] === "help") return { kind: "help", text: replayUsage }
  const name = argv[0]!
  if (!isCommand(name)) return error(`unknown command ${JSON.stringify(name.slice(0, 40))} (${COMMAND_LIST})`)
  const collected = collect(name, argv)
  if (typeof collected === "string") return error(collected)
  const { values, targets } = collected
  if (targets.length === 0) return error(`${name} needs a profile directory or log file`)
  if (!MANY_LOGS.has(name) && targets.length > 1) return error(`${name} reads one log, got ${targets.length}`)
  if (targets.length > MAX_MERGE_LOGS) return error(`${name} reads at most ${MAX_MERGE_LOGS} logs, got ${targets.length}`)
  const filter = filterOf(values)
  if (typeof filter === "string") return error(filter)
  const limit = countOption(values, "--limit")
  const from = countOption(values, "--from")
  for (const value of [limit, from]) if (typeof value === "string") return error(value)
  const atText = values.get("--at")
  const at = typeof atText === "string" ? parseBound("--at", atText) : undefined
  if (typeof at === "string") return error(at)
  if (at?.kind === "number" && at.value < 1) return error('--at must be a positive integer, not "0"')
  const json = values.has("--json")
  const target = targets[0]!
  const run = (command: ReplayCommand): ParsedReplayOptions => ({ kind: "run", run: command })
  switch (name) {
    case "check":
      return run({ command: "check", target })
    case "timeline":
      return run({ command: "timeline", target, fromSeq: (from as number | undefined) ?? 1, limit: limit as number | undefined, filter, json })
    case "state":
      if (values.has("--raw") && (values.has("--json") || values.has("--diff"))) return error("--raw prints the whole state as JSON: it goes without --json and --diff")
      return run({ command: "state", target, at, diff: values.has("--diff"), json, raw: values.has("--raw") })
    case "merge":
      return run({ command: "merge", targets, limit: limit as number | undefined, filter, json })
    case "stats":
      return run({ command: "stats", target, filter, json })
    case "diagram": {
      const format = values.get("--format") ?? "mermaid"
      if (format !== "mermaid" && format !== "svg") return error(`--format is mermaid (or svg), not ${JSON.stringify(String(format).slice(0, 20))}`)
      if ((limit as number | undefined ?? 0) > MAX_DIAGRAM_ITEMS) return error(`--limit: a diagram holds at most ${MAX_DIAGRAM_ITEMS} arrows and notes`)
      return run({ command: "diagram", targets, limit: (limit as number | undefined) ?? DEFAULT_DIAGRAM_ITEMS, filter, format })
    }
    case "audit":
      return run({ command: "audit", targets, filter, json, limit: (limit as number | undefined) ?? DEFAULT_AUDIT_LISTED })
    case "view":
      return run({ command: "view", target, at })
  }
}
