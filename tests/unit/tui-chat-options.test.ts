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
    })
    expect(defaultDataDir({})).toBe(path.join(os.homedir(), ".local", "share", "mqtt-chat"))
    expect(defaultDataDir({ XDG_DATA_HOME: "relative/dir" })).toBe(path.join(os.homedir(), ".local", "share", "mqtt-chat"))
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
    for (const option of ["--broker", "--profile", "--data-dir", "--embedded-port", "--request-timeout", "--help"]) expect(text).toContain(option)
  })

  it("refuses bad values with one line each", () => {
    expect(error(["--broker", "http://x"])).toMatch(/only mqtt:\/\//)
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

  it("checkBrokerUrl accepts mqtt:// and tcp:// with a host", () => {
    expect(checkBrokerUrl("mqtt://127.0.0.1:1883")).toBeNull()
    expect(checkBrokerUrl("tcp://broker.local")).toBeNull()
    expect(checkBrokerUrl("mqtt://[::1]:1883")).toBeNull()
    expect(checkBrokerUrl("mqtt://h:1883/path")).toMatch(/unexpected path/)
  })
})
