/** Where the chat's login comes from, and every way it is refused in one line without echoing the password. */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Result } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { loadBrokerSecrets } from "../../apps/chat/credentials.ts"
import { parseOptions } from "../../apps/chat/options.ts"

const dir = mkdtempSync(join(tmpdir(), "mqtt-chat-credentials-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const file = (name: string, text: string, mode = 0o600): string => {
  const path = join(dir, name)
  writeFileSync(path, text)
  chmodSync(path, mode)
  return path
}
const load = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const parsed = parseOptions(argv, env)
  if (parsed.kind !== "run") throw new Error(JSON.stringify(parsed))
  return loadBrokerSecrets(parsed.options, env)
}
const failure = (argv: string[], env: NodeJS.ProcessEnv = {}): string => {
  const loaded = load(argv, env)
  if (Result.isSuccess(loaded)) throw new Error(`expected a refusal for ${argv.join(" ")}`)
  expect(loaded.failure).not.toContain("\n")
  return loaded.failure
}

describe("the chat's login", () => {
  it("none by default; from an owner-only credentials file; or from the environment", () => {
    expect(load([])).toEqual(Result.succeed({ login: null, ca: null }))
    const credentials = file("alice.json", JSON.stringify({ username: "user-42", password: "s3cret" }))
    expect(load(["--credentials", credentials])).toEqual(Result.succeed({ login: { username: "user-42", password: "s3cret", source: credentials }, ca: null }))
    expect(load([], { MQTT_USERNAME: "user-7", MQTT_PASSWORD: "pw" })).toEqual(Result.succeed({ login: { username: "user-7", password: "pw", source: "MQTT_USERNAME/MQTT_PASSWORD" }, ca: null }))
    expect(load(["--username", "user-8"], { MQTT_PASSWORD: "pw" })).toMatchObject(Result.succeed({ login: { username: "user-8", source: "--username/MQTT_PASSWORD" } }))
  })

  it("refuses a credentials file others can read, a damaged one (without quoting it), a missing one", () => {
    const open = file("open.json", JSON.stringify({ username: "user-42", password: "s3cret" }), 0o644)
    expect(failure(["--credentials", open])).toBe(`credentials ${open}: readable by others (mode 644); make it owner-only: chmod 600 ${open}`)
    const damaged = file("damaged.json", JSON.stringify({ username: "bob", password: "s3cret" }))
    const message = failure(["--credentials", damaged])
    expect(message).toMatch(/expected \{"username": "user-NNNNN", "password": "..."\}/)
    expect(message).not.toContain("s3cret")
    expect(failure(["--credentials", join(dir, "missing.json")])).toMatch(/ENOENT/)
  })

  it("refuses half a login from the environment, and a username that is not a user id", () => {
    expect(failure([], { MQTT_PASSWORD: "pw" })).toMatch(/no username/)
    expect(failure([], { MQTT_USERNAME: "user-7" })).toMatch(/MQTT_USERNAME user-7 needs its password in MQTT_PASSWORD/)
    expect(failure(["--username", "alice"], { MQTT_PASSWORD: "pw" })).toMatch(/--username: "alice" is not a user id/)
  })

  it("reads a PEM CA for mqtts://, and refuses anything else", () => {
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    const ca = file("ca.crt", pem, 0o644)
    const loaded = load(["--broker", "mqtts://h", "--ca", ca])
    expect(Result.isSuccess(loaded) && loaded.success.ca?.toString()).toBe(pem)
    expect(failure(["--broker", "mqtts://h", "--ca", file("key.pem", "not a cert")])).toMatch(/not a PEM certificate/)
  })
})
