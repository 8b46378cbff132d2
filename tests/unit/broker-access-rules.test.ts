/**
 * The access rules of a broker that checks who connects (docs/decisions/009), as the embedded
 * broker applies them and as they are written for Mosquitto; and the shape of the shipped
 * mosquitto-secure.conf that the rules depend on. The real brokers are tested in
 * tests/integration/locked-broker.*.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { GENERATED_MARKER, lockedDownMay, mosquittoAcl, SHIPPED_SECURE_ACL, type Access } from "../../adapters/broker/access-rules.ts"

const SHIPPED_SECURE_CONF = join(import.meta.dirname, "..", "..", "adapters", "broker", "mosquitto-secure.conf")

describe("lockedDownMay", () => {
  const table: ReadonlyArray<readonly [string, Access, string, boolean]> = [
    ["user-1", "read", "user-1_control", true],
    ["user-2", "read", "user-1_control", false],
    ["user-2", "write", "user-1_control", true],
    ["user-1", "write", "user-1_control", true],
    ["user-2", "read", "anything_control", false],
    ["user-2", "read", "global_control", true],
    ["user-2", "write", "global_control", true],
    ["user-2", "read", "global_control/presence/user-1", true],
    ["user-2", "write", "global_control/presence/user-1", false],
    ["user-1", "write", "global_control/presence/user-1", true],
    ["user-1", "write", "global_control/presence/user-1/x", false],
    ["user-2", "read", "global_control/groups/team", true],
    ["user-2", "write", "global_control/groups/team", true],
    ["user-2", "write", "global_control/groups/team/x", false],
    ["user-2", "read", "11_12_talk", true],
    ["user-2", "write", "group_team_talk", true],
    ["user-2", "read", "a/b", false],
    ["user-2", "write", "a/b", false],
    ["user-2", "read", "$SYS/broker/uptime", false],
    ["user-2", "write", "$SYS", false],
    ["user-2", "read", "global_control/other", false],
  ]
  it.each(table)("%s %s %s: %s", (user, access, topic, expected) => {
    expect(lockedDownMay(user, access, topic)).toBe(expected)
  })
})

describe("mosquittoAcl", () => {
  it("opens one-level topics only together with the denial of every user's control topic, and gives each its own", () => {
    const { text, skipped } = mosquittoAcl(["user-1", "user-22", "bad user", "x%u"])
    expect(skipped).toEqual(["bad user", "x%u"])
    const generated = text.slice(text.indexOf(GENERATED_MARKER))
    expect(generated.split("\n").filter((line) => line !== "" && !line.startsWith("#"))).toEqual([
      "pattern read +",
      "pattern deny user-1_control",
      "pattern deny user-22_control",
      "user user-1",
      "topic read user-1_control",
      "topic write +",
      "user user-22",
      "topic read user-22_control",
      "topic write +",
    ])
    expect(text.startsWith(readFileSync(SHIPPED_SECURE_ACL, "utf8").trimEnd())).toBe(true)
  })

  it("the shipped static part alone grants no one-level topic and names no user (safe if loaded by mistake)", () => {
    const rules = readFileSync(SHIPPED_SECURE_ACL, "utf8").split("\n").filter((line) => line !== "" && !line.startsWith("#"))
    expect(rules).toEqual([
      "pattern read global_control/presence/+",
      "pattern read global_control/groups/+",
      "pattern write global_control/groups/+",
      "pattern write global_control/presence/%u",
    ])
  })
})

describe("mosquitto-secure.conf", () => {
  const lines = readFileSync(SHIPPED_SECURE_CONF, "utf8").split("\n")
  const directive = (name: string) => lines.filter((line) => line.startsWith(`${name} `)).map((line) => line.slice(name.length + 1))

  it("refuses anonymous clients and names a password file and an ACL file", () => {
    expect(directive("allow_anonymous")).toEqual(["false"])
    expect(directive("password_file")).toHaveLength(1)
    expect(directive("acl_file")).toHaveLength(1)
    expect(directive("per_listener_settings")).toEqual(["false"])
  })

  it("every listener, the commented TLS one included, is followed by its own use_username_as_clientid", () => {
    // A listener option before any listener opens a default listener on 1883; after the last
    // listener only, it leaves the others without it (a client-id takeover: found by the tests).
    const listeners: Array<{ readonly line: string; readonly commented: boolean; usernameAsClientId: boolean }> = []
    for (const line of lines) {
      const match = /^(#?)(listener|use_username_as_clientid) (.*)$/.exec(line)
      if (match === null) continue
      const [, hash, name, value] = match
      if (name === "listener") listeners.push({ line, commented: hash === "#", usernameAsClientId: false })
      else {
        const current = listeners.at(-1)
        expect(current, "use_username_as_clientid before any listener").toBeDefined()
        expect(current!.commented, `${line} under ${current!.line}`).toBe(hash === "#")
        expect(value).toBe("true")
        current!.usernameAsClientId = true
      }
    }
    expect(listeners.map((listener) => listener.line)).toEqual(["listener 1883 127.0.0.1", "#listener 8883"])
    expect(listeners.every((listener) => listener.usernameAsClientId)).toBe(true)
  })
})
