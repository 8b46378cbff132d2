/**
 * `npm start` as typed in a terminal: quiet (npm's banner erased, nothing from the build), no
 * rebuild when nothing changed, `--version`, and a mistake still one line with exit code 2; and
 * `npm run broker`, whose broker runs from the build, detached from npm.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import packageJson from "../../package.json" with { type: "json" }
import { brokerStatus } from "../../apps/broker/control.ts"
import { freePort } from "../support/free-port.ts"
import { stopLocalBroker } from "../support/local-broker.ts"
import { ROOT, tmuxAvailable, TmuxServer } from "../support/tmux.ts"

const underCi = process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false"
const available = (await tmuxAvailable()) || underCi

/** The rows between the START marker and the shell's `EXIT=n` (the banner would be there), and n. */
const after = (screen: string): { readonly rows: ReadonlyArray<string>; readonly exit: number } => {
  const rows = screen.split("\n").map((row) => row.trimEnd())
  const start = rows.indexOf("START")
  const exitRow = rows.findIndex((row) => /^EXIT=\d+$/.test(row))
  if (start < 0 || exitRow < start) throw new Error(`no START and exit code on the screen:\n${screen}`)
  return { rows: rows.slice(start + 1, exitRow), exit: Number(rows[exitRow]!.slice("EXIT=".length)) }
}

describe.skipIf(!available)("npm start in a terminal", () => {
  let tmux: TmuxServer

  beforeAll(async () => {
    tmux = await TmuxServer.start({ width: 160, height: 30 })
    await tmux.newWindow("npm", ROOT)
  })
  afterAll(async () => {
    await tmux?.kill()
  })

  const run = async (command: string): Promise<{ readonly rows: ReadonlyArray<string>; readonly exit: number }> => {
    await tmux.line("npm", "clear")
    await tmux.waitFor("npm", "a clear screen", (screen) => !/^(START|EXIT=\d+)$/m.test(screen))
    // A marker before: erasing the banner must not erase what came before it either.
    await tmux.line("npm", `echo START; ${command}; echo "EXIT=$?"`)
    return after(await tmux.waitFor("npm", `${command} ends`, /^EXIT=\d+$/m, 60_000))
  }

  it("--version: only the version, no npm banner; the second start does not rebuild", async () => {
    // The first may build (a fresh checkout); it prints nothing either way.
    expect(await run("npm start -- --version")).toEqual({ rows: [`mqtt-chat ${packageJson.version}`], exit: 0 })
    const built = statSync(join(ROOT, "dist", "chat.mjs")).mtimeMs
    expect(await run("npm start -- --version")).toEqual({ rows: [`mqtt-chat ${packageJson.version}`], exit: 0 })
    expect(statSync(join(ROOT, "dist", "chat.mjs")).mtimeMs).toBe(built)
  })

  it("a bad option: one line, exit code 2, no banner", async () => {
    const { rows, exit } = await run("npm start -- --embedded-port 0")
    expect(exit).toBe(2)
    expect(rows).toEqual(['mqtt-chat: --embedded-port: "0" is not a port (1-65535) (see --help)'])
  })

  it("npm run broker -- start | status | stop: the built broker, detached, then gone", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mqtt-chat-e2e-npm-broker-"))
    try {
      const port = await freePort()
      const started = await run(`npm run broker -- start --data-dir ${dir} --port ${port}`)
      expect(started.exit).toBe(0)
      expect(started.rows).toEqual([expect.stringMatching(new RegExp(`^started: pid \\d+, mqtt://127\\.0\\.0\\.1:${port}; store ${dir}/broker/store; log ${dir}/broker/broker.log$`))])
      const status = brokerStatus(dir)
      if (status.kind !== "running") throw new Error(`the broker is ${status.kind}`)
      // Run by node from the build, not by npm: nothing of npm's is left to end it.
      if (existsSync("/proc/self/cmdline")) expect(readFileSync(`/proc/${status.state.pid}/cmdline`, "utf8").split("\0").slice(1, 3)).toEqual([join(ROOT, "dist", "broker.mjs"), "run"])
      expect((await run(`npm run broker -- status --data-dir ${dir}`)).rows[0]).toMatch(new RegExp(`^running: pid ${status.state.pid}, mqtt://127\\.0\\.0\\.1:${port}, since `))
      expect(await run(`npm run broker -- stop --data-dir ${dir}`)).toEqual({ rows: [`stopped (pid ${status.state.pid})`], exit: 0 })
    } finally {
      await stopLocalBroker(dir)
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("npm run broker -- status: its lines only", async () => {
    const { rows, exit } = await run("npm run broker -- status --data-dir /nonexistent/mqtt-chat-test")
    expect(exit).toBe(3)
    expect(rows).toEqual(["not running", "store /nonexistent/mqtt-chat-test/broker/store", "log   /nonexistent/mqtt-chat-test/broker/broker.log"])
  })
})
