/**
 * Starting, stopping and finding the local broker of a data directory, for `npm run broker` and
 * for the chat (which starts it when none runs, and never hosts it itself).
 *
 * `start` spawns the broker process detached (its own session, stdio to broker.log, unref'd) and
 * waits, bounded, until broker.json names it and it answers MQTT. Two starts at the same moment
 * spawn two processes, of which one gets the lock and the other exits with EXIT_ALREADY_RUNNING;
 * both starts then connect to the one that runs. `stop` sends SIGTERM and waits, bounded.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { Effect } from "effect"
import { probeBroker } from "../../adapters/mqtt/broker-probe.ts"
import { EXIT_ALREADY_RUNNING, FAILURE_PREFIX } from "./exits.ts"
import { brokerFiles, isBrokerProcess, isRunning, pidInFile, readState, type BrokerFiles, type BrokerState } from "./files.ts"
import { brokerCommand } from "./launch.ts"

export const START_TIMEOUT_MS = 20_000
export const STOP_TIMEOUT_MS = 10_000
const POLL_MS = 25
const MAX_SPAWNS = 3
const PROBE_TIMEOUT_MS = 1_000
/** The environment the broker does not need and must not keep: the chat's login. */
const PRIVATE_ENV = ["MQTT_PASSWORD", "MQTT_USERNAME", "MQTT_URL"]
/** Tests only: the broker stops after this many seconds without a client (a safety net). */
export const IDLE_EXIT_ENV = "MQTT_CHAT_BROKER_IDLE_EXIT_SECONDS"

export type BrokerStatus =
  /** Runs and said where it listens. */
  | { readonly kind: "running"; readonly state: BrokerState; readonly files: BrokerFiles }
  /** Its process holds the pid file but has not (yet) written broker.json. */
  | { readonly kind: "starting"; readonly pid: number; readonly files: BrokerFiles }
  /** Not running; `stalePid` when a pid file was left behind (a crash, kill -9). */
  | { readonly kind: "stopped"; readonly stalePid: number | null; readonly files: BrokerFiles }

export const brokerStatus = (dataDir: string): BrokerStatus => {
  const files = brokerFiles(dataDir)
  const pid = pidInFile(files.pidFile)
  if (pid === null) return { kind: "stopped", stalePid: null, files }
  if (!isBrokerProcess(pid, dataDir)) return { kind: "stopped", stalePid: pid, files }
  const state = readState(files)
  return state !== null && state.pid === pid ? { kind: "running", state, files } : { kind: "starting", pid, files }
}

export const answersMqtt = (url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> => Effect.runPromise(probeBroker(url, timeoutMs))

export interface StartOptions {
  readonly dataDir: string
  readonly port: number
  readonly passwordFile: string | null
  /** Default process.env; the login variables are removed before the broker gets it. */
  readonly env?: NodeJS.ProcessEnv
  readonly timeoutMs?: number
}

export type StartOutcome =
  | { readonly kind: "started"; readonly state: BrokerState }
  | { readonly kind: "running"; readonly state: BrokerState }
  | { readonly kind: "failed"; readonly message: string }

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** What the broker process wrote to its log after `offset`: its one failure line, if any. */
const failureLine = (files: BrokerFiles, offset: number): string | null => {
  try {
    const fd = fs.openSync(files.logFile, "r")
    try {
      const buffer = Buffer.alloc(64 * 1024)
      const read = fs.readSync(fd, buffer, 0, buffer.length, offset)
      const lines = buffer.subarray(0, read).toString("utf8").split("\n")
      const line = lines.find((candidate) => candidate.startsWith(FAILURE_PREFIX))
      return line === undefined ? null : line.slice(FAILURE_PREFIX.length)
    } finally {
      fs.closeSync(fd)
    }
  } catch {
    return null
  }
}

const fileSize = (file: string): number => {
  try {
    return fs.statSync(file).size
  } catch {
    return 0
  }
}

/** Spawns the broker process detached; its stdout and stderr append to broker.log. */
const spawnBroker = (options: StartOptions, files: BrokerFiles): { readonly pid: number | undefined; readonly exit: () => number | null } => {
  fs.mkdirSync(files.dir, { recursive: true, mode: 0o700 })
  const env = { ...(options.env ?? process.env) }
  for (const name of PRIVATE_ENV) delete env[name]
  const command = brokerCommand()
  const args = [...command.args, "run", "--data-dir", options.dataDir, "--port", String(options.port), ...(options.passwordFile === null ? [] : ["--password-file", options.passwordFile])]
  const logFd = fs.openSync(files.logFile, "a", 0o600)
  let exitCode: number | null = null
  try {
    // Who asked, in the broker's own log: a broker nobody remembers starting can be traced.
    fs.writeSync(logFd, `${new Date().toISOString()} start requested by pid ${process.pid} (${process.argv.slice(1, 3).map((arg) => arg.split("/").slice(-2).join("/")).join(" ")})\n`)
    const child = spawn(command.file, args, { cwd: command.cwd, env, detached: true, stdio: ["ignore", logFd, logFd] })
    child.on("error", () => (exitCode = 1))
    child.on("exit", (code, signal) => (exitCode = code ?? (signal === null ? 1 : 128)))
    child.unref()
    return { pid: child.pid, exit: () => exitCode }
  } finally {
    fs.closeSync(logFd)
  }
}

/**
 * Makes sure the broker of `options.dataDir` runs: the one running, or a new one. Bounded by
 * `timeoutMs`; never throws (a failure is one line for the user).
 */
export const startBroker = async (options: StartOptions): Promise<StartOutcome> => {
  const timeoutMs = options.timeoutMs ?? START_TIMEOUT_MS
  const deadline = Date.now() + timeoutMs
  const files = brokerFiles(options.dataDir)
  let spawned: ReturnType<typeof spawnBroker> | null = null
  let spawns = 0
  let offset = 0
  // Bounded by the deadline: at most timeoutMs / POLL_MS turns (each probe is bounded too), and
  // at most MAX_SPAWNS processes.
  for (;;) {
    const exitCode = spawned?.exit() ?? null
    if (exitCode !== null && exitCode !== EXIT_ALREADY_RUNNING) {
      return { kind: "failed", message: failureLine(files, offset) ?? `the broker process exited with code ${exitCode} (see ${files.logFile})` }
    }
    const status = brokerStatus(options.dataDir)
    if (status.kind === "running" && (await answersMqtt(status.state.url))) {
      if (status.state.pid === spawned?.pid) return { kind: "started", state: status.state }
      // Another one won: ours is about to see that and exit. Wait for it, so that nothing of
      // ours is still starting when this returns (it would find, say, a removed directory).
      if (spawned === null || exitCode !== null || Date.now() > deadline) return { kind: "running", state: status.state }
    }
    // None runs, and ours (if any) lost a race to one that is gone too: start one.
    if (status.kind === "stopped" && (spawned === null || exitCode === EXIT_ALREADY_RUNNING) && spawns < MAX_SPAWNS) {
      try {
        offset = fileSize(files.logFile)
        spawned = spawnBroker(options, files)
        spawns += 1
      } catch (error) {
        return { kind: "failed", message: `cannot start the broker process: ${error instanceof Error ? error.message : String(error)}` }
      }
    }
    if (Date.now() > deadline) return { kind: "failed", message: `the broker did not answer within ${Math.round(timeoutMs / 1000)} s (see ${files.logFile})` }
    await sleep(POLL_MS)
  }
}

export type StopOutcome =
  | { readonly kind: "stopped"; readonly pid: number }
  | { readonly kind: "not-running"; readonly stalePid: number | null }
  | { readonly kind: "failed"; readonly message: string }

/** SIGTERM to the broker of `dataDir`, then waits (bounded) until its process is gone. */
export const stopBroker = async (dataDir: string, timeoutMs = STOP_TIMEOUT_MS): Promise<StopOutcome> => {
  const status = brokerStatus(dataDir)
  if (status.kind === "stopped") {
    // A pid file left by a crash: tidy it, so status says plainly "not running".
    if (status.stalePid !== null) fs.rmSync(status.files.pidFile, { force: true })
    return { kind: "not-running", stalePid: status.stalePid }
  }
  const pid = status.kind === "running" ? status.state.pid : status.pid
  try {
    process.kill(pid, "SIGTERM")
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") return { kind: "failed", message: `cannot signal the broker (pid ${pid}): ${(error as Error).message}` }
  }
  const deadline = Date.now() + timeoutMs
  // Bounded by the deadline.
  while (isRunning(pid) && isBrokerProcess(pid, dataDir)) {
    if (Date.now() > deadline) return { kind: "failed", message: `the broker (pid ${pid}) did not stop within ${Math.round(timeoutMs / 1000)} s; kill -9 ${pid} ends it (its store survives)` }
    await sleep(POLL_MS)
  }
  return { kind: "stopped", pid }
}
