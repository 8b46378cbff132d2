/**
 * The command line of `npm run broker -- start|stop|status|run`: the local broker that the chat uses when no
 * `--broker` is given. It runs as a process of its own, detached, and outlives every chat.
 *
 *   start    starts it in the background unless it runs; waits until it answers (exit 0), else one line (exit 1)
 *   stop     SIGTERM, waits until it is gone (exit 0; also when it was not running)
 *   status   pid, address, store and log (exit 0 when it runs, 3 when not)
 *   run      runs it in this terminal, in the foreground (what `start` runs detached)
 */
import * as path from "node:path"
import { splitArguments } from "../shared/cli-arguments.ts"
import { defaultDataDir, DEFAULT_EMBEDDED_PORT } from "../chat/options.ts"
import { VERSION } from "../shared/version.ts"
import { answersMqtt, brokerStatus, IDLE_EXIT_ENV, startBroker, stopBroker } from "./control.ts"
import { runDaemon } from "./daemon.ts"
import { EXIT_FAILED } from "./exits.ts"
import { brokerFiles } from "./files.ts"

const EXIT_OK = 0
const EXIT_USAGE = 2
const EXIT_NOT_RUNNING = 3
const COMMANDS = ["start", "stop", "status", "run"] as const
type Command = (typeof COMMANDS)[number]

export const brokerUsage = (env: NodeJS.ProcessEnv): string => `mqtt-chat local broker — the MQTT broker the chat uses when no --broker is given

Usage: npm run broker -- COMMAND [options]

Commands:
  start     start it in the background, unless it already runs (it outlives every chat)
  stop      stop it (its clients see each other offline until it runs again)
  status    whether it runs: pid, address, store, log (exit 0 if it runs, 3 if not)
  run       run it in this terminal until Ctrl-C (what start runs in the background)

Options:
  --data-dir DIR         the chat's data directory; the broker lives in DIR/broker
                         (default: ${defaultDataDir(env)})
  --port N               port on 127.0.0.1 (1-65535, default ${DEFAULT_EMBEDDED_PORT}); start and run only
  --password-file FILE   let in only this Mosquitto password file's users, with the locked-down
                         access rules (see npm run broker:add-user); start and run only
  --version, -h/--help

It listens on 127.0.0.1 only. Its store (sessions, queued messages, retained presence) is in
DIR/broker/store and survives restarts; its log is DIR/broker/broker.log.
`

interface BrokerArguments {
  readonly command: Command
  readonly dataDir: string
  readonly port: number
  readonly passwordFile: string | null
}

type Parsed =
  | { readonly kind: "run"; readonly args: BrokerArguments }
  | { readonly kind: "help" }
  | { readonly kind: "version" }
  | { readonly kind: "error"; readonly message: string }

const VALUE_OPTIONS = ["--data-dir", "--port", "--password-file"] as const

export const parseBrokerArguments = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Parsed => {
  if (argv.includes("--version")) return { kind: "version" }
  const [first, ...rest] = argv
  if (first === "-h" || first === "--help" || first === undefined) return first === undefined ? { kind: "error", message: `a command is needed: ${COMMANDS.join(", ")}` } : { kind: "help" }
  if (!(COMMANDS as ReadonlyArray<string>).includes(first)) return { kind: "error", message: `unknown command ${JSON.stringify(first.slice(0, 40))} (${COMMANDS.join(", ")})` }
  const command = first as Command
  const split = splitArguments(rest, VALUE_OPTIONS)
  if (split.kind !== "split") return split
  const portText = split.values.get("--port")
  const port = portText === undefined ? DEFAULT_EMBEDDED_PORT : /^[0-9]{1,5}$/.test(portText) ? Number(portText) : Number.NaN
  if (!(port >= 1 && port <= 65535)) return { kind: "error", message: `--port: ${JSON.stringify(portText?.slice(0, 20))} is not a port (1-65535)` }
  if ((command === "stop" || command === "status") && (portText !== undefined || split.values.has("--password-file"))) return { kind: "error", message: `${command} takes only --data-dir` }
  const passwordFile = split.values.get("--password-file")
  return {
    kind: "run",
    args: { command, dataDir: path.resolve(split.values.get("--data-dir") ?? defaultDataDir(env)), port, passwordFile: passwordFile === undefined ? null : path.resolve(passwordFile) },
  }
}

const say = (line: string): void => void process.stdout.write(`${line}\n`)
const complain = (line: string, code: number): number => {
  process.stderr.write(`mqtt-chat broker: ${line}\n`)
  return code
}

const idleExitMs = (env: NodeJS.ProcessEnv): number | null => {
  const seconds = Number(env[IDLE_EXIT_ENV] ?? "")
  return Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : null
}

const status = async (dataDir: string): Promise<number> => {
  const current = brokerStatus(dataDir)
  const files = brokerFiles(dataDir)
  if (current.kind === "stopped") {
    say(`not running${current.stalePid === null ? "" : ` (a pid file of pid ${current.stalePid} was left behind: it crashed or was killed)`}`)
    say(`store ${files.store}`)
    say(`log   ${files.logFile}`)
    return EXIT_NOT_RUNNING
  }
  if (current.kind === "starting") {
    say(`starting: pid ${current.pid}`)
    say(`log   ${files.logFile}`)
    return EXIT_OK
  }
  const { state } = current
  const answers = await answersMqtt(state.url)
  say(`running: pid ${state.pid}, ${state.url}${answers ? "" : " (NOT answering MQTT)"}, since ${state.startedAt}, version ${state.version}`)
  say(`store ${state.store}`)
  say(`log   ${state.log}`)
  say(`users ${state.passwordFile ?? "anyone on this machine (no password file)"}`)
  return EXIT_OK
}

const start = async (args: BrokerArguments, env: NodeJS.ProcessEnv): Promise<number> => {
  const { dataDir, port, passwordFile } = args
  const outcome = await startBroker({ dataDir, port, passwordFile, env })
  if (outcome.kind === "failed") return complain(outcome.message, EXIT_FAILED)
  const { state } = outcome
  const differs = [
    ...(state.port === port ? [] : [`on port ${state.port}, not ${port}`]),
    ...(state.passwordFile === passwordFile ? [] : [state.passwordFile === null ? "without a password file" : `with the users of ${state.passwordFile}`]),
  ]
  say(`${outcome.kind === "started" ? "started" : "already running"}: pid ${state.pid}, ${state.url}; store ${state.store}; log ${state.log}`)
  if (differs.length > 0) say(`note: it runs ${differs.join(" and ")}; stop it first (npm run broker -- stop) to change that`)
  return EXIT_OK
}

const stop = async (dataDir: string): Promise<number> => {
  const outcome = await stopBroker(dataDir)
  if (outcome.kind === "failed") return complain(outcome.message, EXIT_FAILED)
  say(outcome.kind === "stopped" ? `stopped (pid ${outcome.pid})` : `not running${outcome.stalePid === null ? "" : ` (removed the pid file of pid ${outcome.stalePid}, which is gone)`}`)
  return EXIT_OK
}

export const brokerMain = async (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Promise<number> => {
  const parsed = parseBrokerArguments(argv, env)
  if (parsed.kind === "help") {
    process.stdout.write(brokerUsage(env))
    return EXIT_OK
  }
  if (parsed.kind === "version") {
    say(`mqtt-chat ${VERSION}`)
    return EXIT_OK
  }
  if (parsed.kind === "error") return complain(`${parsed.message} (see --help)`, EXIT_USAGE)
  const { args } = parsed
  if (args.command === "run") return runDaemon({ dataDir: args.dataDir, port: args.port, passwordFile: args.passwordFile, idleExitMs: idleExitMs(env), version: VERSION })
  if (args.command === "status") return status(args.dataDir)
  if (args.command === "stop") return stop(args.dataDir)
  return start(args, env)
}
