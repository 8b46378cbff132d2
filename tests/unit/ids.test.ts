import { describe, expect, it } from "vitest"
import { compareUserIds, parseTopic, topics, type GroupName, type UserId } from "../../domain/ids.ts"

const u = (s: string) => s as UserId

describe("ids and topics", () => {
  it("builds the design note's names", () => {
    expect(topics.control(u("user-32563"))).toBe("user-32563_control")
    expect(topics.talk(u("user-32564"), u("user-32563"))).toBe("32563_32564_talk")
    expect(topics.talk(u("user-32563"), u("user-32564"))).toBe("32563_32564_talk")
    expect(topics.globalControl).toBe("global_control")
    expect(topics.presence(u("user-32563"))).toBe("global_control/presence/user-32563")
    expect(topics.groupTalk("team" as GroupName)).toBe("group_team_talk")
  })

  it("orders ids by number, not by string", () => {
    expect(compareUserIds(u("user-9"), u("user-10"))).toBeLessThan(0)
    expect(topics.talk(u("user-10"), u("user-9"))).toBe("9_10_talk")
  })

  it("refuses to build a topic from an id or name that could inject", () => {
    for (const bad of ["user-1/#", "user-+", "user-1\u0000", "#", "user-", "User-1", "user-1 ", "../user-1"]) {
      expect(() => topics.control(u(bad))).toThrow(/invalid user id/)
    }
    for (const bad of ["a/b", "a+b", "#", "", "-lead", "x".repeat(33), "a b", "é"]) {
      expect(() => topics.groupTalk(bad as GroupName)).toThrow(/invalid group name/)
    }
    expect(() => topics.talk(u("user-1"), u("user-1"))).toThrow()
  })

  it("parses every topic kind, and nothing else", () => {
    expect(parseTopic("global_control")).toEqual({ kind: "global" })
    expect(parseTopic("user-5_control")).toEqual({ kind: "control", user: "user-5" })
    expect(parseTopic("5_6_talk")).toEqual({ kind: "talk", users: ["user-5", "user-6"] })
    expect(parseTopic("group_team_talk")).toEqual({ kind: "groupTalk", group: "team" })
    expect(parseTopic("global_control/presence/user-5")).toEqual({ kind: "presence", user: "user-5" })
    expect(parseTopic("global_control/groups/team")).toEqual({ kind: "groupInfo", group: "team" })
    for (const other of ["5_5_talk", "user-5_control/x", "global_control/presence/user-5/x", "group__talk", "x", ""]) {
      expect(parseTopic(other)).toEqual({ kind: "unknown" })
    }
  })
})
