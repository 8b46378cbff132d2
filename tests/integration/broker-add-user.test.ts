/**
 * `npm run broker:add-user` as an operator runs it, checked by the brokers themselves: a real
 * Mosquitto with the shipped secure configuration accepts the logins it made (also after a SIGHUP
 * for a user added while it runs, and refuses a replaced password), and so does the embedded broker.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import mqtt from "mqtt"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startEmbeddedBroker } from "../../adapters/broker/embedded-broker.ts"
import { readCredentialsFile, type CredentialsFile } from "../../apps/shared/credentials-file.ts"
import { Result } from "effect"
import { lockedMosquittoConfig } from "../support/locked-brokers.ts"
import { mosquittoAvailable, startMosquitto, type MosquittoHandle } from "../support/mosquitto.ts"
import { runProgram } from "../support/run-program.ts"

const ROOT = join(import.meta.dirname, "..", "..")
const MAIN = join(ROOT, "apps", "broker-admin", "add-user.ts")
const underCi = process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false"

describe("broker:add-user", () => {
  let dir: string
  let passwordFile: string
  let aclFile: string
  const addUser = (args: ReadonlyArray<string>) => runProgram(MAIN, ["--password-file", "etc/passwd", ...args], { cwd: ROOT, env: { ...process.env, INIT_CWD: dir } })
  const credentials = (file: string): CredentialsFile => {
    const read = readCredentialsFile(file)
    if (Result.isFailure(read)) throw new Error(read.failure)
    return read.success
  }
  /** Resolves to the CONNACK refusal code, or 0 when let in. */
  const login = async (url: string, user: CredentialsFile): Promise<number> => {
    try {
      const client = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: user.username, username: user.username, password: user.password, reconnectPeriod: 0, connectTimeout: 5_000 })
      await client.endAsync()
      return 0
    } catch (error) {
      return (error as { code?: number }).code ?? -1
    }
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "mqtt-chat-add-user-"))
    passwordFile = join(dir, "etc", "passwd")
    aclFile = join(dir, "etc", "acl")
  })
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it("draws a fresh user, or takes the one given; writes owner-only credentials where it says", async () => {
    const drawn = await addUser([])
    expect(drawn.stderr).toBe("")
    expect(drawn.code).toBe(0)
    const match = /^Credentials for (user-\d{5}): (\S+) /m.exec(drawn.stdout)
    expect(match, drawn.stdout).not.toBeNull()
    expect(match![2]).toBe(join(dir, `${match![1]}.credentials.json`))
    expect((await stat(match![2]!)).mode & 0o777).toBe(0o600)
    expect(credentials(match![2]!).username).toBe(match![1])

    const given = await addUser(["user-42", "--credentials-out", "alice.json"])
    expect(given.code, given.stderr).toBe(0)
    expect(credentials(join(dir, "alice.json")).username).toBe("user-42")
    expect((await stat(passwordFile)).mode & 0o777).toBe(0o600)
    const acl = await readFile(aclFile, "utf8")
    expect(acl).toContain("pattern deny user-42_control")
    expect(acl).toContain(`pattern deny ${match![1]}_control`)
  })

  it("refuses, in one line and changing nothing: an existing user, a bad user id, a damaged password file", async () => {
    const before = await readFile(passwordFile, "utf8")
    const cases = [
      [["user-42", "--credentials-out", "again.json"], /user-42 already has a password .*--replace/],
      [["bob"], /"bob" is not a user id/],
      [["--password-file"], /--password-file needs a value/],
    ] as const
    const runs = await Promise.all(cases.map(([args]) => addUser(args)))
    runs.forEach((ran, i) => {
      expect(ran.code, ran.stdout).not.toBe(0)
      expect(ran.stderr.trim().split("\n"), ran.stderr).toHaveLength(1)
      expect(ran.stderr).toMatch(cases[i]![1])
    })
    expect(await readFile(passwordFile, "utf8")).toBe(before)

    const damaged = join(dir, "damaged")
    await writeFile(damaged, "user-1:not-a-hash\n")
    const ran = await runProgram(MAIN, ["--password-file", damaged, "--credentials-out", join(dir, "never.json")], { cwd: ROOT })
    expect(ran.code).toBe(1)
    expect(ran.stderr).toMatch(/line 1: user-1: not a \$6\$ or \$7\$ password hash: fix or remove those lines first/)
    expect(await readFile(damaged, "utf8")).toBe("user-1:not-a-hash\n")
    await expect(stat(join(dir, "never.json"))).rejects.toThrow(/ENOENT/)
  })

  it("the embedded broker lets its users in and nobody else", async () => {
    const broker = await startEmbeddedBroker({ port: 0, passwordFile })
    try {
      const alice = credentials(join(dir, "alice.json"))
      expect(await login(broker.url, alice)).toBe(0)
      expect(await login(broker.url, { ...alice, password: `${alice.password}x` })).toBe(4)
    } finally {
      await broker.close()
    }
  })

  describe.skipIf(!mosquittoAvailable() && !underCi)("on Mosquitto with the shipped secure configuration", () => {
    let broker: MosquittoHandle
    beforeAll(async () => {
      broker = await startMosquitto({ config: ({ port, persistenceDir }) => lockedMosquittoConfig({ port, persistenceDir, passwordFile, aclFile }) })
    })
    afterAll(async () => {
      await broker?.dispose()
    })
    /** A reload is asynchronous: polls (bounded) until it took effect. */
    const until = async (what: string, condition: () => Promise<boolean>): Promise<void> => {
      const deadline = Date.now() + 10_000
      while (!(await condition())) {
        if (Date.now() > deadline) throw new Error(`timed out: ${what}\n${broker.output().slice(-1_000)}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }

    it("accepts the logins it made; a user added later gets in after a SIGHUP; --replace retires the old password", async () => {
      const alice = credentials(join(dir, "alice.json"))
      expect(await login(broker.url, alice)).toBe(0)

      const added = await addUser(["user-43", "--credentials-out", "carol.json"])
      expect(added.code, added.stderr).toBe(0)
      const carol = credentials(join(dir, "carol.json"))
      broker.reload()
      await until("user-43 is let in after the reload", async () => (await login(broker.url, carol)) === 0)

      const replaced = await addUser(["user-42", "--credentials-out", "alice.json", "--replace"])
      expect(replaced.code, replaced.stderr).toBe(0)
      expect(replaced.stdout).toMatch(/^New password for user-42/)
      const newAlice = credentials(join(dir, "alice.json"))
      expect(newAlice.password).not.toBe(alice.password)
      broker.reload()
      await until("the old password is refused after the reload", async () => (await login(broker.url, alice)) !== 0)
      expect(await login(broker.url, newAlice)).toBe(0)
    })
  })
})
