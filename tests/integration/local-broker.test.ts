/**
 * The local broker as a process of its own (apps/broker), driven through its command line as a
 * user would (`npm run broker -- start|stop|status`, here node + tsx on the sources): it outlives
 * the command that started it, one per data directory even when started twice at once, a stale
 * pid file (kill -9, or a pid reused by another program) does not block it, a port taken by
 * something else is one clear line, its store survives its crash and its restart, and it stops by
 * itself when its data directory disappears or (tests only) when idle.
 *
 * Every test uses its own temporary data directory and a free port, and stops what it started.
 */
import { spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import mqtt from "mqtt"
import { afterEach, describe, expect, it } from "vitest"
import { parseBrokerArguments } from "../../apps/broker/cli.ts"
import { answersMqtt, brokerStatus, IDLE_EXIT_ENV, startBroker, stopBroker, type StartOptions } from "../../apps/broker/control.ts"
import { brokerFiles, isRunning } from "../../apps/broker/files.ts"
import { chooseBroker } from "../../apps/chat/broker-choice.ts"
import { freePort } from "../support/free-port.ts"
import { stopLocalBroker } from "../support/local-broker.ts"
import { writeUserFiles } from "../support/locked-brokers.ts"
import { runProgram, type Ran } from "../support/run-program.ts"

const ROOT = join(import.meta.dirname, "..", "..")
const MAIN = join(ROOT, "apps", "broker", "main.ts")
const hasProc = existsSync("/proc/self/cmdline")

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  // Every cleanup runs, even after one failed: a broker left running outlives the test run.
  const failures: Array<unknown> = []
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve().then(cleanup).catch((error: unknown) => failures.push(error))
  if (failures.length > 0) throw failures[0]
})

/** A data directory whose broker is stopped (SIGTERM, then SIGKILL) and which is removed after the test. */
const dataDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "mqtt-chat-local-broker-"))
  cleanups.push(async () => {
    await stopLocalBroker(dir)
    rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

const broker = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env): Promise<Ran> => runProgram(MAIN, args, { cwd: ROOT, env })

const alive = isRunning

/** Polls `check` every 50 ms until it holds or `timeoutMs` passed; returns whether it held. */
const eventually = async (check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs
  // Bounded by the deadline.
  while (Date.now() < deadline) {
    if (await check()) return true
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return check()
}

const runningPid = (dir: string): number => {
  const status = brokerStatus(dir)
  if (status.kind !== "running") throw new Error(`the broker of ${dir} is ${status.kind}`)
  return status.state.pid
}

/** Starts the broker in-process (what `start` does), expecting success. */
const started = async (options: StartOptions): Promise<string> => {
  const outcome = await startBroker(options)
  if (outcome.kind === "failed") throw new Error(outcome.message)
  return outcome.state.url
}

const connect = (url: string, options: mqtt.IClientOptions) => mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000, ...options })

describe("the local broker process", () => {
  it("start runs it detached: it outlives the command, status names it, stop ends it", async () => {
    const dir = dataDir()
    const port = await freePort()
    const started = await broker(["start", "--data-dir", dir, "--port", String(port)])
    expect(started.code, started.stderr).toBe(0)
    expect(started.stdout).toMatch(new RegExp(`^started: pid \\d+, mqtt://127\\.0\\.0\\.1:${port}; store ${dir}/broker/store; log ${dir}/broker/broker.log$`, "m"))
    // The command has exited; the broker it started has not.
    const pid = runningPid(dir)
    expect(alive(pid)).toBe(true)
    expect(await answersMqtt(`mqtt://127.0.0.1:${port}`)).toBe(true)

    const status = await broker(["status", "--data-dir", dir])
    expect(status.code).toBe(0)
    expect(status.stdout).toContain(`running: pid ${pid}, mqtt://127.0.0.1:${port}, since `)
    expect(status.stdout).toContain(`store ${dir}/broker/store`)
    expect(status.stdout).toContain(`log   ${dir}/broker/broker.log`)

    const stopped = await broker(["stop", "--data-dir", dir])
    expect(stopped.code, stopped.stderr).toBe(0)
    expect(stopped.stdout.trim()).toBe(`stopped (pid ${pid})`)
    expect(alive(pid)).toBe(false)
    expect(existsSync(brokerFiles(dir).pidFile)).toBe(false)
    const after = await broker(["status", "--data-dir", dir])
    expect(after.code).toBe(3)
    expect(after.stdout).toMatch(/^not running$/m)
    expect(await stopBroker(dir)).toEqual({ kind: "not-running", stalePid: null })
  })

  it("two starts at the same moment: one broker runs, both report it", async () => {
    const dir = dataDir()
    const port = String(await freePort())
    const runs = await Promise.all([broker(["start", "--data-dir", dir, "--port", port]), broker(["start", "--data-dir", dir, "--port", port])])
    for (const run of runs) expect(run.code, run.stderr).toBe(0)
    const pid = runningPid(dir)
    const pids = runs.map((run) => /pid (\d+)/.exec(run.stdout)?.[1])
    expect(pids).toEqual([String(pid), String(pid)])
    expect(runs.filter((run) => run.stdout.startsWith("started:"))).toHaveLength(1)
    expect(runs.filter((run) => run.stdout.startsWith(`already running: pid ${pid}, `))).toHaveLength(1)
    const log = readFileSync(brokerFiles(dir).logFile, "utf8")
    expect(log.match(/\[aedes\] listening on/g)).toHaveLength(1)
  })

  it("two chats choosing the local broker at the same moment: one starts it, the other connects to it", async () => {
    const dir = dataDir()
    const embeddedPort = await freePort()
    const options = { brokerUrl: null, brokerSource: null, embeddedPort, dataDir: dir, log: () => {} }
    const choices = await Promise.all([chooseBroker(options), chooseBroker(options)])
    expect(choices[0].url).toBe(`mqtt://127.0.0.1:${embeddedPort}`)
    expect(choices[1].url).toBe(choices[0].url)
    expect(choices.map((choice) => choice.local)).toEqual([true, true])
    expect(choices.filter((choice) => choice.announcement.includes("started it"))).toHaveLength(1)
    expect(choices.filter((choice) => choice.announcement.includes("it was running"))).toHaveLength(1)
  })

  it("after a kill -9: status says a pid file was left, the next start takes over, and the queued message survived", async () => {
    const dir = dataDir()
    const port = await freePort()
    const url = await started({ dataDir: dir, port, passwordFile: null })
    // A persistent session with a subscription, offline; a QoS 1 message queued for it.
    const receiver = await connect(url, { clientId: "user-1", clean: false })
    await receiver.subscribeAsync("user-1_control", { qos: 1 })
    await receiver.endAsync()
    const sender = await connect(url, { clientId: "user-2", clean: true })
    await sender.publishAsync("user-1_control", "while you were away", { qos: 1 })
    await sender.endAsync()

    const killed = runningPid(dir)
    process.kill(killed, "SIGKILL")
    expect(await eventually(() => !alive(killed), 10_000)).toBe(true)
    const status = await broker(["status", "--data-dir", dir])
    expect(status.code).toBe(3)
    expect(status.stdout).toContain(`a pid file of pid ${killed} was left behind`)

    expect(await startBroker({ dataDir: dir, port, passwordFile: null })).toMatchObject({ kind: "started", state: { url } })
    expect(runningPid(dir)).not.toBe(killed)
    expect(readFileSync(brokerFiles(dir).logFile, "utf8")).toContain(`took over the pid file of pid ${killed}, which is gone`)

    // The handler is in place before the CONNECT: the queued message follows the CONNACK at once.
    const back = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, clientId: "user-1", clean: false })
    const received = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the queued message did not arrive")), 10_000)
      back.on("message", (_topic, payload) => {
        clearTimeout(timer)
        resolve(payload.toString())
      })
    })
    expect(received).toBe("while you were away")
    await back.endAsync()
  })

  it.skipIf(!hasProc)("a pid file naming a live program that is not the broker (a reused pid) is stale too", async () => {
    const dir = dataDir()
    const port = await freePort()
    const stranger = spawn("sleep", ["60"], { stdio: "ignore" })
    cleanups.push(() => void stranger.kill("SIGKILL"))
    const files = brokerFiles(dir)
    mkdirSync(files.dir, { recursive: true })
    writeFileSync(files.pidFile, `${stranger.pid}\n`)
    expect(brokerStatus(dir)).toMatchObject({ kind: "stopped", stalePid: stranger.pid })
    expect(await startBroker({ dataDir: dir, port, passwordFile: null })).toMatchObject({ kind: "started" })
    expect(runningPid(dir)).not.toBe(stranger.pid)
    // The stranger was never signalled.
    expect(stranger.exitCode).toBe(null)
    expect(alive(stranger.pid!)).toBe(true)
  })

  it("a port taken by another program: one line, exit code 1, nothing left running", async () => {
    const dir = dataDir()
    const squatter = net.createServer((socket) => socket.destroy())
    await new Promise<void>((resolve) => squatter.listen(0, "127.0.0.1", resolve))
    cleanups.push(() => new Promise<void>((resolve) => squatter.close(() => resolve())))
    const port = (squatter.address() as net.AddressInfo).port
    const run = await broker(["start", "--data-dir", dir, "--port", String(port)])
    expect(run.code).toBe(1)
    const lines = run.stderr.trim().split("\n")
    expect(lines, run.stderr).toHaveLength(1)
    expect(lines[0]).toBe(`mqtt-chat broker: port ${port} on 127.0.0.1 is in use by another program: stop it, or use another port (npm run broker -- start --port N; the chat: --embedded-port N)`)
    expect(brokerStatus(dir).kind).toBe("stopped")
    expect(existsSync(brokerFiles(dir).pidFile)).toBe(false)
  })

  it("the chat says the same in one line when the port is taken by something that is not a broker", async () => {
    const dir = dataDir()
    const squatter = net.createServer((socket) => socket.destroy())
    await new Promise<void>((resolve) => squatter.listen(0, "127.0.0.1", resolve))
    cleanups.push(() => new Promise<void>((resolve) => squatter.close(() => resolve())))
    const port = (squatter.address() as net.AddressInfo).port
    await expect(chooseBroker({ brokerUrl: null, brokerSource: null, embeddedPort: port, dataDir: dir, log: () => {} })).rejects.toThrow(
      `could not start the local broker: port ${port} on 127.0.0.1 is in use by another program`,
    )
  })

  it("start --password-file: only that file's users get in, under their own client id", async () => {
    const dir = dataDir()
    const port = String(await freePort())
    const url = `mqtt://127.0.0.1:${port}`
    const { users, passwordFile } = await writeUserFiles(dir, ["user-71"])
    const started = await broker(["start", "--data-dir", dir, "--port", port, "--password-file", passwordFile])
    expect(started.code, started.stderr).toBe(0)
    expect((await broker(["status", "--data-dir", dir])).stdout).toContain(`users ${passwordFile}`)
    await expect(connect(url, { clientId: "user-71" })).rejects.toThrow(/Not authorized|Bad username or password/i)
    const user = users.get("user-71")!
    const client = await connect(url, { clientId: "user-71", username: user.username, password: user.password })
    expect(client.connected).toBe(true)
    await client.endAsync()
  })

  it("retained messages survive its stop and start, and a store of the earlier layout is moved into store/ and kept", async () => {
    const dir = dataDir()
    const port = await freePort()
    const options = { dataDir: dir, port, passwordFile: null }
    const url = await started(options)
    const writer = await connect(url, { clientId: "user-5", clean: true })
    await writer.publishAsync("global_control/presence/user-5", "offline", { qos: 1, retain: true })
    await writer.endAsync()
    const retainedAt = async (): Promise<string> => {
      const reader = await connect(url, { clientId: "user-6", clean: true })
      const retained = new Promise<string>((resolve) => reader.on("message", (_topic, payload) => resolve(payload.toString())))
      await reader.subscribeAsync("global_control/presence/+", { qos: 1 })
      const text = await retained
      await reader.endAsync()
      return text
    }
    expect((await stopBroker(dir)).kind).toBe("stopped")
    await started(options)
    expect(await retainedAt()).toBe("offline")

    // What an earlier version left: the store's files directly in DATA_DIR/broker.
    expect((await stopBroker(dir)).kind).toBe("stopped")
    const files = brokerFiles(dir)
    for (const name of readdirSync(files.store)) renameSync(join(files.store, name), join(files.dir, name))
    rmSync(files.store, { recursive: true })
    await started(options)
    expect(existsSync(join(files.store, "CURRENT"))).toBe(true)
    expect(existsSync(join(files.dir, "CURRENT"))).toBe(false)
    expect(readFileSync(files.logFile, "utf8")).toMatch(/moved the store of the earlier layout \(\d+ files\)/)
    expect(await retainedAt()).toBe("offline")
  })

  it("stops by itself when its data directory is removed", async () => {
    const dir = dataDir()
    await started({ dataDir: dir, port: await freePort(), passwordFile: null })
    const pid = runningPid(dir)
    rmSync(dir, { recursive: true, force: true })
    expect(await eventually(() => !alive(pid), 15_000)).toBe(true)
  })

  it("with the tests' idle limit, stops by itself when no client came for that long", async () => {
    const dir = dataDir()
    await started({ dataDir: dir, port: await freePort(), passwordFile: null, env: { ...process.env, [IDLE_EXIT_ENV]: "1" } })
    const pid = runningPid(dir)
    expect(await eventually(() => !alive(pid), 15_000)).toBe(true)
    expect(readFileSync(brokerFiles(dir).logFile, "utf8")).toContain("stopping: no client for 1000 ms")
    expect(brokerStatus(dir)).toMatchObject({ kind: "stopped", stalePid: null })
  })

  it("refuses bad command lines in one line, exit code 2", async () => {
    for (const args of [[], ["launch"], ["start", "--port", "99999"], ["stop", "--port", "1883"], ["status", "--password-file", "f"], ["start", "--bogus"], ["start", "--data-dir"]]) {
      expect(parseBrokerArguments(args, {}), args.join(" ")).toMatchObject({ kind: "error" })
    }
    expect(parseBrokerArguments(["start", "--data-dir", "d", "--port", "1884", "--password-file", "p"], {})).toMatchObject({ kind: "run", args: { command: "start", port: 1884, dataDir: join(process.cwd(), "d"), passwordFile: join(process.cwd(), "p") } })
    expect(parseBrokerArguments(["status"], { XDG_DATA_HOME: "/x" })).toMatchObject({ kind: "run", args: { command: "status", dataDir: "/x/mqtt-chat", port: 1883 } })
    const run = await broker(["start", "--port", "99999"])
    expect(run.code).toBe(2)
    expect(run.stderr).toBe("mqtt-chat broker: --port: \"99999\" is not a port (1-65535) (see --help)\n")
    expect((await broker(["--version"])).stdout).toMatch(/^mqtt-chat \d+\.\d+\.\d+\n$/)
  })
})
