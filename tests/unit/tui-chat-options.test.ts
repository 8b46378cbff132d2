/** The chat client's command line: defaults, every option validated, one line per mistake. */
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { checkBrokerUrl, defaultDataDir, parseOptions } from "../../apps/chat/options.ts"

const run = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const parsed = parseOptions(argv, env)
  if (parsed.kind !== "run") throw new Error(`expected options, got ${JSON.stringify(parsed)}`)
  return parsed.options
}
const error = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const parsed = parseOptions(argv, env)
  if (parsed.kind !== "error") throw new Error(`expected an error for ${argv.join(" ")}`)
  return parsed.message
}

describe("parseOptions", () => {
  it("defaults: no broker (probe or embed), profile 'default', the XDG data dir, port 1883, one day", () => {
    const options = run([], { XDG_DATA_HOME: "/data" })
    expect(options).toEqual({
      brokerUrl: null,
      brokerSource: null,
      profile: "default",
      dataDir: "/data/mqtt-chat",
      profileDir: "/data/mqtt-chat/profiles/default",
      embeddedPort: 1883,
      requestTimeoutMs: 86_400_000,
      credentialsFile: null,
      username: null,
      usernameSource: null,
      caFile: null,
      embeddedPasswordFile: null,
      bell: true,
    })
    expect(defaultDataDir({})).toBe(path.join(os.homedir(), ".local", "share", "mqtt-chat"))
    expect(defaultDataDir({ XDG_DATA_HOME: "relative/dir" })).toBe(path.join(os.homedir(), ".local", "share", "mqtt-chat"))
  })

  it("--no-bell starts the run with the bell off; given twice it is a mistake", () => {
    expect(run(["--no-bell"]).bell).toBe(false)
    expect(run(["--profile", "x", "--no-bell"]).bell).toBe(false)
    expect(error(["--no-bell", "--no-bell"])).toBe("--no-bell given twice")
  })

  it("--version prints the package's version, whatever else is given", async () => {
    const { default: packageJson } = await import("../../package.json", { with: { type: "json" } })
    expect(parseOptions(["--version"], {})).toEqual({ kind: "version", text: `mqtt-chat ${packageJson.version}\n` })
    expect(parseOptions(["--profile", "x", "--version"], {})).toMatchObject({ kind: "version" })
  })

  it("takes --opt value and --opt=value; --broker beats MQTT_URL", () => {
    const options = run(["--broker=mqtt://h:1884", "--profile", "bob", "--data-dir", "/tmp/x", "--embedded-port", "2000", "--request-timeout", "1.5"], { MQTT_URL: "mqtt://other:1" })
    expect(options.brokerUrl).toBe("mqtt://h:1884")
    expect(options.brokerSource).toBe("--broker")
    expect(options.profileDir).toBe("/tmp/x/profiles/bob")
    expect(options.embeddedPort).toBe(2000)
    expect(options.requestTimeoutMs).toBe(1500)
    expect(run([], { MQTT_URL: "mqtt://env:1883" }).brokerSource).toBe("MQTT_URL")
  })

  it("help lists every option", () => {
    const parsed = parseOptions(["--help"], {})
    expect(parsed.kind).toBe("help")
    const text = parsed.kind === "help" ? parsed.text : ""
    for (const option of ["--broker", "--profile", "--data-dir", "--embedded-port", "--request-timeout", "--credentials", "--ca", "--embedded-password-file", "MQTT_PASSWORD", "--help"]) expect(text).toContain(option)
  })

  it("a login: --credentials FILE (beats MQTT_USERNAME), or --username / MQTT_USERNAME; --ca only for mqtts://", () => {
    const fromFile = run(["--credentials", "/k/alice.json", "--broker", "mqtts://h", "--ca", "/k/ca.crt"], { MQTT_USERNAME: "user-9" })
    expect([fromFile.credentialsFile, fromFile.username, fromFile.caFile, fromFile.brokerUrl]).toEqual(["/k/alice.json", null, "/k/ca.crt", "mqtts://h"])
    expect(run(["--username", "user-7"], { MQTT_USERNAME: "user-9" })).toMatchObject({ username: "user-7", usernameSource: "--username" })
    expect(run([], { MQTT_USERNAME: "user-9" })).toMatchObject({ username: "user-9", usernameSource: "MQTT_USERNAME" })
    expect(run(["--embedded-password-file", "/etc/p"]).embeddedPasswordFile).toBe("/etc/p")
    expect(error(["--ca", "/k/ca.crt"])).toMatch(/--ca is for a TLS broker/)
    expect(error(["--ca", "/k/ca.crt", "--broker", "mqtt://h"])).toMatch(/--ca is for a TLS broker/)
    expect(error(["--credentials", "a", "--username", "user-1"])).toMatch(/give one/)
  })

  it("never takes a password as an option, and says why", () => {
    for (const argv of [["--password", "hunter2"], ["--password=hunter2"], ["-P", "hunter2"], ["--broker", "mqtt://h", "--password", "x"]]) {
      expect(error(argv)).toMatch(/^--password: .*ps.*--credentials FILE, or MQTT_PASSWORD/)
    }
  })

  it("refuses bad values with one line each", () => {
    expect(error(["--broker", "http://x"])).toMatch(/only mqtt:\/\/ \(plain TCP\) and mqtts:\/\//)
    expect(error(["--broker", "nonsense"])).toMatch(/not a URL/)
    expect(error([], { MQTT_URL: "mqtt://u:p@h:1" })).toMatch(/^MQTT_URL: credentials/)
    expect(error(["--broker", "mqtt://h:70000"])).toMatch(/not a URL|invalid port/)
    expect(error(["--profile", "../etc"])).toMatch(/not a profile name/)
    expect(error(["--profile", ".hidden"])).toMatch(/not a profile name/)
    expect(error(["--embedded-port", "0"])).toMatch(/not a port/)
    expect(error(["--embedded-port", "12ab"])).toMatch(/not a port/)
    expect(error(["--request-timeout", "-1"])).toMatch(/not a number of seconds/)
    expect(error(["--request-timeout", "99999999"])).toMatch(/at most/)
    expect(error(["--profile"])).toMatch(/needs a value/)
    expect(error(["--profile", "--broker"])).toMatch(/needs a value/)
    expect(error(["--profile", "a", "--profile", "b"])).toMatch(/given twice/)
    expect(error(["--verbose"])).toMatch(/unknown option/)
    expect(error(["extra"])).toMatch(/unexpected argument/)
    for (const message of [error(["--broker", "x"]), error(["--nope"])]) expect(message).not.toContain("\n")
  })

  it("checkBrokerUrl accepts mqtt://, tcp:// and mqtts:// with a host", () => {
    expect(checkBrokerUrl("mqtt://127.0.0.1:1883")).toBeNull()
    expect(checkBrokerUrl("mqtts://broker.example:8883")).toBeNull()
    expect(checkBrokerUrl("tcp://broker.local")).toBeNull()
    expect(checkBrokerUrl("mqtt://[::1]:1883")).toBeNull()
    expect(checkBrokerUrl("mqtt://h:1883/path")).toMatch(/unexpected path/)
  })
})
