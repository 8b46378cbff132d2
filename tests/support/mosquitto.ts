/**
 * A real Mosquitto for tests: its own port on 127.0.0.1, its own config and persistence in a temp
 * directory, killed when the test process exits.
 */
import { spawn, spawnSync } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { existsSync, readFileSync, rmSync } from "node:fs"
import { mkdir, mkdtemp, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort, waitForPort } from "./free-port.ts"

export interface MosquittoHandle {
  readonly url: string
  readonly port: number
  /** SIGTERM (default) saves the persistence file first; SIGKILL loses what was not autosaved yet. */
  stop(signal?: NodeJS.Signals): Promise<void>
  /** Stops it if it runs (SIGTERM), then starts it again on the same port with the same store. */
  restart(): Promise<void>
  /** SIGHUP: Mosquitto reads its password and ACL files again. */
  reload(): void
  /** Stops it and removes the temp directory. */
  dispose(): Promise<void>
  /** What the broker wrote to stderr/stdout, for failure messages (bounded). */
  output(): string
}

const CANDIDATES = ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/bin/mosquitto"]
const START_TIMEOUT_MS = 5_000
const STOP_TIMEOUT_MS = 5_000
const OUTPUT_LIMIT = 20_000

export function mosquittoBinary(): string | undefined {
  const known = CANDIDATES.find((path) => existsSync(path))
  if (known !== undefined) return known
  const which = spawnSync("which", ["mosquitto"], { encoding: "utf8" })
  const found = which.status === 0 ? which.stdout.trim() : ""
  return found === "" ? undefined : found
}

export const mosquittoAvailable = (): boolean => mosquittoBinary() !== undefined

/** The deployment's access rules, as shipped (adapters/broker/mosquitto.acl): tests run the real file. */
export const SHIPPED_ACL = join(import.meta.dirname, "..", "..", "adapters", "broker", "mosquitto.acl")

export function mosquittoConfig(options: { readonly port: number; readonly persistenceDir: string; readonly aclFile?: string }): string {
  const lines = [
    ...(options.aclFile === undefined ? [] : [`acl_file ${options.aclFile}`]),
    `listener ${options.port} 127.0.0.1`,
    "allow_anonymous true",
    "persistence true",
    `persistence_location ${options.persistenceDir.endsWith("/") ? options.persistenceDir : `${options.persistenceDir}/`}`,
    // Tests restart brokers: a short autosave limits what a SIGKILL can lose.
    "autosave_interval 1",
    "max_queued_messages 100000",
    "set_tcp_nodelay true",
    // As in adapters/broker/mosquitto.conf.
    "max_packet_size 131072",
    "log_dest stderr",
    "log_type error",
    "log_type warning",
    "log_type notice",
  ]
  // As root Mosquitto switches to the `mosquitto` user, which cannot write our temp directory.
  if (process.getuid?.() === 0) lines.push("user root")
  return `${lines.join("\n")}\n`
}

export interface MosquittoStartOptions {
  readonly persistenceDir?: string
  /** Enforce the deployment's access rules (adapters/broker/mosquitto.acl); off for raw broker tests. */
  readonly acl?: boolean
  /** A whole configuration of one's own instead (`acl` is then ignored); `workDir` is removed on dispose. */
  readonly config?: (settings: { readonly port: number; readonly persistenceDir: string; readonly workDir: string }) => Promise<string>
}

export async function startMosquitto(options: MosquittoStartOptions = {}): Promise<MosquittoHandle> {
  const binary = mosquittoBinary()
  if (binary === undefined) throw new Error("mosquitto is not installed (apt-get install mosquitto)")
  const workDir = await mkdtemp(join(tmpdir(), "mqtt-chat-mosquitto-"))
  const persistenceDir = options.persistenceDir ?? join(workDir, "data")
  await mkdir(persistenceDir, { recursive: true })
  const port = await freePort()
  const configPath = join(workDir, "mosquitto.conf")
  const aclFile = join(workDir, "mosquitto.acl")
  await writeFile(aclFile, readFileSync(SHIPPED_ACL, "utf8"))
  const config = options.config === undefined
    ? mosquittoConfig({ port, persistenceDir, ...(options.acl === true ? { aclFile } : {}) })
    : await options.config({ port, persistenceDir, workDir })
  await writeFile(configPath, config)

  let child: ChildProcess | undefined
  let output = ""
  const killOnExit = () => child?.kill("SIGKILL")
  process.once("exit", killOnExit)

  const launch = async (): Promise<void> => {
    const started = spawn(binary, ["-c", configPath], { stdio: ["ignore", "pipe", "pipe"] })
    child = started
    let exited = false
    started.once("exit", () => {
      exited = true
    })
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-OUTPUT_LIMIT)
    }
    started.stdout?.on("data", collect)
    started.stderr?.on("data", collect)
    if (!(await waitForPort(port, START_TIMEOUT_MS, () => !exited))) {
      started.kill("SIGKILL")
      throw new Error(`mosquitto did not accept connections on ${port} within ${START_TIMEOUT_MS} ms:\n${output.slice(-2_000)}`)
    }
  }

  const stop = async (signal: NodeJS.Signals = "SIGTERM"): Promise<void> => {
    const running = child
    child = undefined
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return
    const exited = new Promise<void>((resolve) => running.once("exit", () => resolve()))
    running.kill(signal)
    const timer = setTimeout(() => running.kill("SIGKILL"), STOP_TIMEOUT_MS)
    await exited
    clearTimeout(timer)
  }

  await launch()
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    stop,
    restart: async () => {
      await stop("SIGTERM")
      await launch()
    },
    reload: () => {
      child?.kill("SIGHUP")
    },
    dispose: async () => {
      await stop("SIGTERM")
      process.off("exit", killOnExit)
      rmSync(workDir, { recursive: true, force: true })
    },
    output: () => output,
  }
}
