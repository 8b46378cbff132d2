/**
 * The terminal chat on a broker that checks who connects (real Mosquitto with the shipped secure
 * configuration and a private CA made by openssl): it logs in with --credentials or the
 * environment, speaks mqtts with --ca, and every refusal is one clear line and exit code 1.
 */
import { spawnSync } from "node:child_process"
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { credentialsText } from "../../apps/shared/credentials-file.ts"
import type { UserId } from "../../domain/ids.ts"
import { freePort } from "../support/free-port.ts"
import { stopLocalBroker } from "../support/local-broker.ts"
import { lockedMosquittoKind, writeUserFiles, type LockedBrokerHandle } from "../support/locked-brokers.ts"
import { makePrivateCa, type PrivateCa } from "../support/private-ca.ts"
import { CHAT, CHAT_BUNDLE, ensureChatBundle, ROOT, tmuxAvailable, TmuxServer } from "../support/tmux.ts"

const underCi = process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false"
const hasTmux = (await tmuxAvailable()) || underCi
const available = (hasTmux && !lockedMosquittoKind.skip && lockedMosquittoKind.tls) || underCi

/** The lines a failed start printed before the shell's `EXIT=n`, and n. */
const outcome = (screen: string): { readonly lines: ReadonlyArray<string>; readonly exit: number } => {
  const rows = screen.split("\n").map((row) => row.trimEnd())
  const exitRow = rows.findIndex((row) => /^EXIT=\d+$/.test(row))
  if (exitRow < 0) throw new Error(`no exit code on the screen:\n${screen}`)
  const lines = rows.slice(0, exitRow).filter((row) => row.length > 0 && !row.includes("chat.mjs"))
  return { lines, exit: Number(rows[exitRow]!.slice("EXIT=".length)) }
}

describe("the chat's login", () => {
  // The spawned chat is the bundle the terminal tests run (TmuxServer.start builds it too).
  beforeAll(ensureChatBundle)
  it("refuses a password given as an option: one line, exit code 2, before anything else", () => {
    const run = spawnSync(process.execPath, [CHAT_BUNDLE, "--password", "hunter2"], { cwd: ROOT, encoding: "utf8", timeout: 30_000 })
    expect(run.status).toBe(2)
    expect(run.stderr.trim().split("\n")).toHaveLength(1)
    expect(run.stderr).toMatch(/^mqtt-chat: --password: .* use --credentials FILE, or MQTT_PASSWORD/)
  })

  describe.skipIf(!available)("in a terminal, on Mosquitto with the shipped secure configuration", () => {
    let tmux: TmuxServer
    let broker: LockedBrokerHandle
    let dir: string
    let ca: PrivateCa
    const credentialsFor = (name: string, user: string, password: string): string => {
      const file = join(dir, name)
      writeFileSync(file, credentialsText({ username: user as UserId, password }), { mode: 0o600 })
      chmodSync(file, 0o600)
      return file
    }
    const chat = (args: string, env = ""): string => `clear; ${env} ${CHAT} --data-dir ${join(dir, "data")} ${args}; echo "EXIT=$?"`

    beforeAll(async () => {
      tmux = await TmuxServer.start({ width: 400, height: 30 })
      dir = mkdtempSync(join(tmpdir(), "mqtt-chat-e2e-login-"))
      ca = await makePrivateCa(mkdtempSync(join(dir, "ca-")))
      broker = await lockedMosquittoKind.start({ users: ["user-51", "user-52"], tls: ca })
    })
    afterAll(async () => {
      await tmux?.kill()
      await broker?.dispose()
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
    })

    it("a wrong password: one line naming the user and where the login came from, exit code 1", async () => {
      const wrong = credentialsFor("wrong.json", "user-51", "not-the-password")
      await tmux.newWindow("wrong", ROOT)
      await tmux.line("wrong", chat(`--broker ${broker.url} --credentials ${wrong} --profile wrong`))
      const { lines, exit } = outcome(await tmux.waitFor("wrong", "the exit code", /^EXIT=\d+$/m, 30_000))
      expect(exit).toBe(1)
      expect(lines, lines.join("\n")).toHaveLength(1)
      expect(lines[0]).toMatch(new RegExp(`^mqtt-chat: mqtt://127\\.0\\.0\\.1:\\d+ refused the login of user-51: (not authorized|bad username or password) \\(login from ${wrong.replaceAll(".", "\\.")}\\)$`))
    })

    it("mqtts with the private CA: a new profile is the username, connected; without the CA: one line, exit code 1", async () => {
      const good = credentialsFor("user-51.json", "user-51", broker.user("user-51").password)
      await tmux.newWindow("tls", ROOT)
      await tmux.line("tls", chat(`--broker ${broker.tlsUrl} --ca ${ca.caFile} --credentials ${good} --profile p51`))
      const screen = await tmux.waitFor("tls", "the chat is connected over TLS", /● connected mqtts:\/\/127\.0\.0\.1/, 30_000)
      expect(screen).toMatch(/you are user-51/)
      await tmux.keys("tls", "C-q")
      expect(outcome(await tmux.waitFor("tls", "a clean quit", /^EXIT=\d+$/m, 15_000)).exit).toBe(0)

      await tmux.newWindow("no-ca", ROOT)
      await tmux.line("no-ca", chat(`--broker ${broker.tlsUrl} --credentials ${good} --profile p51`))
      const { lines, exit } = outcome(await tmux.waitFor("no-ca", "the exit code", /^EXIT=\d+$/m, 30_000))
      expect(exit).toBe(1)
      expect(lines, lines.join("\n")).toHaveLength(1)
      expect(lines[0]).toMatch(/^mqtt-chat: mqtts:\/\/127\.0\.0\.1:\d+: the broker's certificate does not verify \(.+\); for a private CA give its certificate \(--ca FILE\)$/)
    })

    it("a profile made for another user, with a login from the environment: one line, exit code 1", async () => {
      await tmux.newWindow("mismatch", ROOT)
      await tmux.line("mismatch", chat(`--broker ${broker.url} --profile p51`, `MQTT_USERNAME=user-52 MQTT_PASSWORD=${broker.user("user-52").password}`))
      const { lines, exit } = outcome(await tmux.waitFor("mismatch", "the exit code", /^EXIT=\d+$/m, 30_000))
      expect(exit).toBe(1)
      expect(lines, lines.join("\n")).toHaveLength(1)
      expect(lines[0]).toMatch(/^mqtt-chat: profile "p51" is user-51, but the login \(MQTT_USERNAME\/MQTT_PASSWORD\) is user-52/)
    })
  })

  describe.skipIf(!hasTmux)("in a terminal, on the embedded broker with a password file", () => {
    let tmux: TmuxServer
    let dir: string

    beforeAll(async () => {
      tmux = await TmuxServer.start({ width: 400, height: 30 })
      dir = mkdtempSync(join(tmpdir(), "mqtt-chat-e2e-embedded-login-"))
    })
    afterAll(async () => {
      await tmux?.kill()
      // The chat started the local broker, which outlives it by design.
      if (dir !== undefined) await stopLocalBroker(join(dir, "data"))
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
    })

    it("the chat that starts it lets in the password file's users only", async () => {
      const { users, passwordFile } = await writeUserFiles(dir, ["user-61"])
      const credentials = join(dir, "user-61.json")
      writeFileSync(credentials, credentialsText({ username: "user-61" as UserId, password: users.get("user-61")!.password }), { mode: 0o600 })
      const port = await freePort()
      const common = `--embedded-port ${port} --data-dir ${join(dir, "data")}`
      await tmux.newWindow("owner", ROOT)
      await tmux.line("owner", `clear; ${CHAT} ${common} --embedded-password-file ${passwordFile} --credentials ${credentials} --profile p61; echo "EXIT=$?"`)
      const screen = await tmux.waitFor("owner", "connected to the local broker", /● connected mqtt:\/\/127\.0\.0\.1:\d+ \(local\)/, 30_000)
      expect(screen).toMatch(/you are user-61/)

      await tmux.newWindow("anonymous", ROOT)
      await tmux.line("anonymous", `clear; ${CHAT} ${common} --profile anonymous; echo "EXIT=$?"`)
      const { lines, exit } = outcome(await tmux.waitFor("anonymous", "the exit code", /^EXIT=\d+$/m, 30_000))
      expect(exit).toBe(1)
      expect(lines, lines.join("\n")).toHaveLength(1)
      expect(lines[0]).toMatch(/^mqtt-chat: the MQTT broker at mqtt:\/\/127\.0\.0\.1:\d+ lets in only users with a login \(.*\): start the chat with its credentials$/)

      await tmux.keys("owner", "C-q")
      expect(outcome(await tmux.waitFor("owner", "a clean quit", /^EXIT=\d+$/m, 15_000)).exit).toBe(0)
    })
  })
})
