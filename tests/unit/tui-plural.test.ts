/** Counts on screen take the singular for one ("1 member", not "1 members"; issue found by hand in F4). */
import { describe, expect, it } from "vitest"
import type { GroupName, UserId } from "../../domain/ids.ts"
import { counted } from "../../adapters/tui/plural.ts"
import { renderTitle } from "../../adapters/tui/views.ts"

describe("counted", () => {
  it("singular for one, plural otherwise, an irregular plural when given", () => {
    expect(counted(1, "member")).toBe("1 member")
    expect(counted(0, "member")).toBe("0 members")
    expect(counted(2, "member")).toBe("2 members")
    expect(counted(1, "more line")).toBe("1 more line")
    expect(counted(3, "reply", "replies")).toBe("3 replies")
  })
})

describe("the title line", () => {
  it("a group of one and one line below: singular", () => {
    const title = renderTitle({
      kind: "group",
      label: "#crew",
      me: "user-1",
      user: null,
      group: { name: "crew" as GroupName, leader: "user-1" as UserId, members: ["user-1" as UserId], me: "leading", pending: [] },
      topic: null,
      linesBelow: 1,
    }, 200)
    expect(title).toContain("1 member:")
    expect(title).toContain("1 more line (PgDn)")
    expect(title).not.toMatch(/1 members|1 more lines/)
  })
})
