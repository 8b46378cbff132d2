/** Slash commands: what each line means, and a usage line for every mistake. */
import { describe, expect, it } from "vitest"
import { COMMANDS, completeWord, parseInput } from "../../adapters/tui/commands.ts"

const command = (line: string) => {
  const parsed = parseInput(line)
  if (!parsed.ok) throw new Error(`expected a command for ${line}: ${parsed.error}`)
  return parsed.command
}
const error = (line: string) => {
  const parsed = parseInput(line)
  if (parsed.ok) throw new Error(`expected an error for ${line}`)
  return parsed.error
}

describe("parseInput", () => {
  it("plain text is a message; // escapes a leading slash", () => {
    expect(command("hello /world")).toEqual({ _tag: "say", text: "hello /world" })
    expect(command("//not a command")).toEqual({ _tag: "say", text: "/not a command" })
  })

  it("search takes the rest of the line, spaces included", () => {
    expect(command("/search deploy on friday")).toEqual({ _tag: "search", query: "deploy on friday" })
    expect(command("/grep  two  spaces ")).toEqual({ _tag: "search", query: "two  spaces" })
    expect(error("/search")).toMatch(/\/search TEXT/)
  })

  it("the menu functions of the design note", () => {
    expect(command("/users")).toEqual({ _tag: "users" })
    expect(command("/group create team-1")).toEqual({ _tag: "groupCreate", group: "team-1" })
    expect(command("/groups")).toEqual({ _tag: "groups" })
    expect(command("/group list")).toEqual({ _tag: "groups" })
    expect(command("/join #team")).toEqual({ _tag: "join", group: "team" })
    expect(command("/group join team")).toEqual({ _tag: "join", group: "team" })
    expect(command("/talk user-12345")).toEqual({ _tag: "talk", user: "user-12345" })
    expect(command("/talk 12345")).toEqual({ _tag: "talk", user: "user-12345" })
    expect(command("/requests")).toEqual({ _tag: "requests" })
    expect(command("/acceptances")).toEqual({ _tag: "acceptances" })
  })

  it("accept and refuse: default, a user, a group with or without the user, a reason", () => {
    expect(command("/accept")).toEqual({ _tag: "accept", target: null })
    expect(command("/accept user-7")).toEqual({ _tag: "accept", target: { kind: "chat", user: "user-7" } })
    expect(command("/accept #team user-7")).toEqual({ _tag: "accept", target: { kind: "group", group: "team", user: "user-7" } })
    expect(command("/accept team user-7")).toEqual({ _tag: "accept", target: { kind: "group", group: "team", user: "user-7" } })
    expect(command("/accept #team")).toEqual({ _tag: "accept", target: { kind: "group", group: "team", user: null } })
    expect(command("/refuse user-7 not now")).toEqual({ _tag: "refuse", target: { kind: "chat", user: "user-7" }, reason: "not now" })
    expect(command("/refuse #team user-7")).toEqual({ _tag: "refuse", target: { kind: "group", group: "team", user: "user-7" }, reason: null })
    expect(command("/refuse not today")).toEqual({ _tag: "refuse", target: null, reason: "not today" })
    expect(error("/accept user-1 user-2")).toMatch(/#name/)
    expect(error("/refuse #bad/name")).toMatch(/not a group name/)
  })

  it("leave, open, help, quit and aliases", () => {
    expect(command("/leave")).toEqual({ _tag: "leave", target: null })
    expect(command("/leave #team")).toEqual({ _tag: "leave", target: { kind: "group", group: "team" } })
    expect(command("/part user-3")).toEqual({ _tag: "leave", target: { kind: "peer", user: "user-3" } })
    expect(command("/close")).toEqual({ _tag: "close", target: null })
    expect(command("/wc 444")).toEqual({ _tag: "close", target: { kind: "peer", user: "user-444" } })
    expect(command("/close #team")).toEqual({ _tag: "close", target: { kind: "group", group: "team" } })
    expect(command("/open status")).toEqual({ _tag: "open", target: "status" })
    expect(command("/open user-3")).toEqual({ _tag: "open", target: { kind: "peer", user: "user-3" } })
    expect(command("/open team")).toEqual({ _tag: "open", target: { kind: "group", group: "team" } })
    // As the side list shows a conversation: @user-3.
    expect(command("/open @user-3")).toEqual({ _tag: "open", target: { kind: "peer", user: "user-3" } })
    expect(command("/close @3")).toEqual({ _tag: "close", target: { kind: "peer", user: "user-3" } })
    expect(command("/talk @user-3")).toEqual({ _tag: "talk", user: "user-3" })
    expect(command("/help /join")).toEqual({ _tag: "help", topic: "join" })
    expect(command("/exit")).toEqual({ _tag: "quit" })
    expect(command("/QUIT")).toEqual({ _tag: "quit" })
  })

  it("rejects what could reach a topic unchecked, with a usage line", () => {
    expect(error("/talk user-1/#")).toMatch(/not a user id.*usage: \/talk/)
    expect(error("/join a+b")).toMatch(/not a group name/)
    expect(error("/group create x/y")).toMatch(/usage: \/group create NAME/)
    expect(error("/group create")).toMatch(/usage/)
    expect(error("/talk")).toMatch(/usage: \/talk user-NNNNN/)
    expect(error("/users now")).toMatch(/usage: \/users/)
    expect(error("/frobnicate")).toMatch(/unknown command \/frobnicate/)
    expect(error("/")).toMatch(/empty command/)
  })

  it("every command in the table parses in its documented form", () => {
    const examples: Record<string, string> = {
      users: "/users", groups: "/groups", group: "/group create g", join: "/join g", talk: "/talk user-1", accept: "/accept", refuse: "/refuse",
      leave: "/leave", close: "/close #g", requests: "/requests", acceptances: "/acceptances", open: "/open status", menu: "/menu", help: "/help", quit: "/quit",
      search: "/search x", whois: "/whois", trust: "/trust user-1", bell: "/bell off",
    }
    // Each as the command it names (a missing example would parse as text to send).
    for (const entry of COMMANDS) {
      const parsed = parseInput(examples[entry.name] ?? "missing")
      expect(parsed.ok && parsed.command._tag !== "say", entry.name).toBe(true)
    }
  })
})

describe("completeWord", () => {
  it("completes command names at the start of the line, and candidates elsewhere", () => {
    expect(completeWord("/jo", true, [])).toEqual(["/join"])
    expect(completeWord("/a", true, [])).toEqual(["/accept", "/acceptances"])
    expect(completeWord("user-1", false, ["user-12", "user-13", "user-2"])).toEqual(["user-12", "user-13"])
    expect(completeWord("", false, ["user-1"])).toEqual([])
    // As the side list writes a conversation.
    expect(completeWord("@user-1", false, ["user-12", "#user-1x", "user-2"])).toEqual(["@user-12"])
    expect(completeWord("@12", false, ["user-123", "user-2"])).toEqual(["@user-123"])
    // Bare digits name a user too.
    expect(completeWord("1", false, ["user-12", "user-13", "user-2", "#team1"])).toEqual(["user-12", "user-13"])
    expect(completeWord("2", false, ["user-12", "user-2"])).toEqual(["user-2"])
  })
})
