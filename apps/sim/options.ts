/**
 * Command-line options of the simulator, parsed by hand: a few numbers, each checked against a
 * range, and one line of explanation for any mistake.
 */
import { splitArguments } from "../shared/cli-arguments.ts"

export interface SimOptions {
  readonly seed: number
  readonly users: number
  readonly steps: number
  /** Probability that a delivery is a duplicate (the message stays in flight and arrives again). */
  readonly duplicate: number
  /** Probability that a delivery is picked at random among those ready instead of the oldest. */
  readonly reorder: number
  /** Probability that a user's action is to close the chat for a while (instead of a command). */
  readonly offline: number
  /** Probability that a user's action is a crash of its process, restarted from its log later. */
  readonly crash: number
  /** Probability that a delivery step is instead the broker losing a message it acknowledged. */
  readonly lose: number
  /** Probability that a user's action is to lose the network for a while, the chat still running. */
  readonly partition: number
  readonly json: boolean
  /** Leave the wall-clock measurement out, so the output is byte-identical for a seed. */
  readonly timing: boolean
  /** Where to write every user's log as a profile directory, if anywhere. */
  readonly logsDir: string | undefined
}

export type ParsedSimOptions =
  | { readonly kind: "run"; readonly options: SimOptions }
  | { readonly kind: "help"; readonly text: string }
  | { readonly kind: "error"; readonly message: string }

/** The seed feeds mulberry32, which takes 32 bits. */
export const MAX_SEED = 2 ** 32 - 1
export const MIN_USERS = 2
/**
 * Presence fans out to everyone, so N users starting cost 2·N·(N−1) deliveries, and the invariant
 * check compares every pair: 500 users already take minutes and over a gigabyte.
 */
export const MAX_USERS = 500
export const MAX_STEPS = 1_000_000

export const DEFAULT_SIM_OPTIONS: SimOptions = {
  seed: 42,
  users: 50,
  steps: 20_000,
  duplicate: 0.05,
  reorder: 0.2,
  offline: 0.02,
  crash: 0.01,
  lose: 0,
  partition: 0.01,
  json: false,
  timing: true,
  logsDir: undefined,
}

export const simUsage = `mqtt-chat simulator — many virtual users running the real chat service, one thread, one seed

Usage: npm run sim -- [options]        (or: npx tsx apps/sim/main.ts [options])

Options:
  --seed N         seed of every random choice (0-${MAX_SEED}, default ${DEFAULT_SIM_OPTIONS.seed})
  --users N        virtual users (${MIN_USERS}-${MAX_USERS}, default ${DEFAULT_SIM_OPTIONS.users}); presence reaches everyone,
                   so the start alone is 2·N·(N−1) deliveries
  --steps N        steps: a command, a delivery or a clock advance each (1-${MAX_STEPS}, default ${DEFAULT_SIM_OPTIONS.steps});
                   the arrivals at the start and the final drain come on top
  --duplicate P    probability that a delivery is duplicated (0-1, default ${DEFAULT_SIM_OPTIONS.duplicate})
  --reorder P      probability that a delivery is not the oldest one (0-1, default ${DEFAULT_SIM_OPTIONS.reorder})
  --offline P      probability that a user's action is to close the chat for a while (0-1, default ${DEFAULT_SIM_OPTIONS.offline})
  --crash P        probability that a user's action is a crash of its process — at once, or between
                   storing a decision and publishing it — restarted from its log later (0-1, default ${DEFAULT_SIM_OPTIONS.crash})
  --partition P    probability that a user's action is to lose the network for a while, the chat
                   still running: the broker publishes its Will, its publishes wait, it reconnects
                   with the next connection number (0-1, default ${DEFAULT_SIM_OPTIONS.partition})
  --lose P         probability that a delivery step is the broker losing a message it acknowledged
                   (Mosquitto's full queue, aedes' restart) instead (0-1, default ${DEFAULT_SIM_OPTIONS.lose})
  --logs DIR       write each user's log to DIR/<user-id>/events.log (DIR new or empty), for
                   npm run replay -- check | timeline | state | merge
  --json           print the report as JSON
  --no-timing      leave out the wall-clock measurement: the output is then byte-identical per seed
  -h, --help       show this help

Each user is a real ChatService (signed, sealed frames; the memory log; subscriptions, retained
messages, QoS 1 queues and Last Wills on an in-memory broker), all on one simulated clock. At the
end everyone comes back online, the network drains, time passes for held messages' gaps to resolve,
and the invariants are checked: pairs agree on their conversation, every user sees the same group
information, folding each user's log afresh gives the service's live state, no message reaches a
history twice, every message reached every reader that was due it (the audit of
npm run replay -- audit, on the same logs), and in its sender's order.
On a terminal, a progress line on stderr; Ctrl-C prints the report so far and the seed.
Exit code: 0 all invariants hold, 1 one failed, 2 bad options.
`

const INTEGER = /^[0-9]{1,10}$/
const PROBABILITY = /^(0(\.[0-9]{1,9})?|1(\.0{1,9})?|\.[0-9]{1,9})$/

const parseInteger = (name: string, text: string, min: number, max: number): number | string => {
  if (!INTEGER.test(text)) return `${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(text.slice(0, 40))}`
  const value = Number(text)
  return value >= min && value <= max ? value : `${name} must be from ${min} to ${max}, not ${value}`
}

const parseProbability = (name: string, text: string): number | string =>
  PROBABILITY.test(text) ? Number(text) : `${name} must be a probability from 0 to 1, not ${JSON.stringify(text.slice(0, 40))}`

const VALUE_OPTIONS = ["--seed", "--users", "--steps", "--duplicate", "--reorder", "--offline", "--crash", "--lose", "--partition", "--logs"] as const
type ValueOption = (typeof VALUE_OPTIONS)[number]
const FLAG_OPTIONS = ["--json", "--no-timing"] as const
type FlagOption = (typeof FLAG_OPTIONS)[number]

export const parseSimOptions = (argv: ReadonlyArray<string>): ParsedSimOptions => {
  const split = splitArguments(argv, VALUE_OPTIONS, FLAG_OPTIONS, " (see --help)")
  if (split.kind === "help") return { kind: "help", text: simUsage }
  if (split.kind === "error") return split
  const { values, flags } = split

  const integer = (name: ValueOption, min: number, max: number, fallback: number): number | string => {
    const text = values.get(name)
    return text === undefined ? fallback : parseInteger(name, text, min, max)
  }
  const probability = (name: ValueOption, fallback: number): number | string => {
    const text = values.get(name)
    return text === undefined ? fallback : parseProbability(name, text)
  }
  const seed = integer("--seed", 0, MAX_SEED, DEFAULT_SIM_OPTIONS.seed)
  const users = integer("--users", MIN_USERS, MAX_USERS, DEFAULT_SIM_OPTIONS.users)
  const steps = integer("--steps", 1, MAX_STEPS, DEFAULT_SIM_OPTIONS.steps)
  const duplicate = probability("--duplicate", DEFAULT_SIM_OPTIONS.duplicate)
  const reorder = probability("--reorder", DEFAULT_SIM_OPTIONS.reorder)
  const offline = probability("--offline", DEFAULT_SIM_OPTIONS.offline)
  const crash = probability("--crash", DEFAULT_SIM_OPTIONS.crash)
  const lose = probability("--lose", DEFAULT_SIM_OPTIONS.lose)
  const partition = probability("--partition", DEFAULT_SIM_OPTIONS.partition)
  for (const checked of [seed, users, steps, duplicate, reorder, offline, crash, lose, partition]) {
    if (typeof checked === "string") return { kind: "error", message: checked }
  }
  return {
    kind: "run",
    options: {
      seed: seed as number,
      users: users as number,
      steps: steps as number,
      duplicate: duplicate as number,
      reorder: reorder as number,
      offline: offline as number,
      crash: crash as number,
      lose: lose as number,
      partition: partition as number,
      json: flags.has("--json"),
      timing: !flags.has("--no-timing"),
      logsDir: values.get("--logs"),
    },
  }
}
