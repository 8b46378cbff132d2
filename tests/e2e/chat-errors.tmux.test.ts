/**
 * How the chat refuses to start, seen from a real terminal: each failure is one clear line and a
 * non-zero exit code, never a stack trace.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startAedes, type BrokerHandle } from "../support/brokers.ts"
import { freePort } from "../support/free-port.ts"
import { CHAT, CHAT_BUNDLE, ensureChatBundle, ROOT, tmuxAvailable, TmuxServer } from "../support/tmux.ts"

const underCi = process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false"
const available = (await tmuxAvailable()) || underCi

/** The lines a failed start printed before the shell's `EXIT=n`, and n. */
const outcome = (screen: string): { readonly lines: ReadonlyArray<string>; readonly exit: number } => {
  const rows = screen.split("\n").map((row) => row.trimEnd())
  const exitRow = rows.findIndex((row) => /^EXIT=\d+$/.test(row))
  if (exitRow < 0) throw new Error(`no exit code on the screen:\n${screen}`)
  const lines = rows.slice(0, exitRow).filter((row) => row.length > 0 && !row.includes("chat.mjs"))
  return { lines, exit: Number(rows[exitRow]!.slice("EXIT=".length)) }
}

describe("the chat refuses to start, clearly", () => {
  // The spawned chat is the bundle the terminal tests run (TmuxServer.start builds it too).
  beforeAll(ensureChatBundle)
  it("without a terminal: one line on stderr, exit code 2", () => {
    const run = spawnSync(process.execPath, [CHAT_BUNDLE], { cwd: ROOT, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], timeout: 30_000 })
    expect(run.status).toBe(2)
    expect(run.stderr.trim().split("\n")).toHaveLength(1)
    expect(run.stderr).toMatch(/needs an interactive terminal/)
    expect(run.stderr).not.toMatch(/\bat .*\.(ts|mjs):\d+/)
  })

  it("with a bad option: one line, exit code 2", () => {
    const run = spawnSync(process.execPath, [CHAT_BUNDLE, "--embedded-port", "99999"], { cwd: ROOT, encoding: "utf8", timeout: 30_000 })
    expect(run.status).toBe(2)
    expect(run.stderr.trim().split("\n")).toHaveLength(1)
  })

  describe.skipIf(!available)("in a terminal", () => {
    let tmux: TmuxServer
    let broker: BrokerHandle
    let dataDir: string

    beforeAll(async () => {
      // Wide enough that the one-line errors (long temp paths) do not wrap.
      tmux = await TmuxServer.start({ width: 400, height: 30 })
      broker = await startAedes()
      dataDir = mkdtempSync(join(tmpdir(), "mqtt-chat-e2e-errors-"))
    })
    afterAll(async () => {
      await tmux?.kill()
      await broker?.dispose()
      if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
    })

    it("a broker that cannot be reached: one line, exit code 1", async () => {
      const nothing = await freePort()
      await tmux.newWindow("unreachable", ROOT)
      await tmux.line("unreachable", `clear; ${CHAT} --broker mqtt://127.0.0.1:${nothing} --data-dir ${dataDir}; echo "EXIT=$?"`)
      const screen = await tmux.waitFor("unreachable", "the exit code", /^EXIT=\d+$/m, 30_000)
      const { lines, exit } = outcome(screen)
      expect(exit).toBe(1)
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(/cannot reach the MQTT broker at mqtt:\/\/127\.0\.0\.1:\d+/)
    })

    it("a profile already open in another terminal: one line, exit code 1, the first one untouched", async () => {
      await tmux.newWindow("first", ROOT)
      await tmux.line("first", `clear; ${CHAT} --broker ${broker.url} --data-dir ${dataDir} --profile shared; echo "EXIT=$?"`)
      await tmux.waitFor("first", "the first client is up", /● connected/, 60_000)
      await tmux.newWindow("second", ROOT)
      await tmux.line("second", `clear; ${CHAT} --broker ${broker.url} --data-dir ${dataDir} --profile shared; echo "EXIT=$?"`)
      const screen = await tmux.waitFor("second", "the exit code", /^EXIT=\d+$/m, 30_000)
      const { lines, exit } = outcome(screen)
      expect(exit).toBe(1)
      expect(lines, lines.join("\n")).toHaveLength(1)
      expect(lines[0]).toMatch(/profile "shared" is already open/)
      expect(await tmux.capture("first")).toMatch(/● connected/)
      await tmux.keys("first", "C-q")
      const first = await tmux.waitFor("first", "the first client quits cleanly", /^EXIT=\d+$/m, 15_000)
      expect(outcome(first).exit).toBe(0)
    })
  })
})
