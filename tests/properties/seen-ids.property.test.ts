/**
 * A seen-set restored from a snapshot builds its `Set` only when first asked (domain/chat/chat-state.ts
 * `SeenIds`); adds before that wait in order. Whatever happens after the restore — adds, questions,
 * transactions committed or rolled back, evictions past the capacity — it answers every `has`,
 * `size` and `horizon` like the set it was persisted from, which never went through a snapshot,
 * and persists the same ids, times and horizon.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { SeenIds } from "../../domain/chat/chat-state.ts"

/** Explicit sizes: runs, capacity of each set, ids to choose from, operations before and after the restore (plus up to 2 × capacity adds first). */
const RUNS = Number(process.env.FC_RUNS ?? 400)
const SEED = Number(process.env.FC_SEED ?? 20_261_204)
const MAX_CAPACITY = 12
const ID_POOL = 20
const MAX_OPS = 60

type Op =
  | { readonly _tag: "add"; readonly id: number; readonly at: number }
  | { readonly _tag: "has"; readonly id: number }
  | { readonly _tag: "size" }
  | { readonly _tag: "horizon" }
  | { readonly _tag: "begin" }
  | { readonly _tag: "commit" }
  | { readonly _tag: "rollback" }

const idArb = fc.nat({ max: ID_POOL - 1 })
const addArb = fc.record({ _tag: fc.constant("add" as const), id: idArb, at: fc.nat({ max: 10_000 }) })
/** Adds are the most common: they drive evictions, and runs of them before the first question. */
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: addArb, weight: 6 },
  { arbitrary: fc.record({ _tag: fc.constant("has" as const), id: idArb }), weight: 4 },
  { arbitrary: fc.constant({ _tag: "size" as const }), weight: 1 },
  { arbitrary: fc.constant({ _tag: "horizon" as const }), weight: 1 },
  { arbitrary: fc.constant({ _tag: "begin" as const }), weight: 1 },
  { arbitrary: fc.constant({ _tag: "commit" as const }), weight: 1 },
  { arbitrary: fc.constant({ _tag: "rollback" as const }), weight: 1 },
)

const key = (id: number) => `user-${id}/envelope${id}`

/** Applies `op` to `set` the way the service does (no second begin, no commit without one); returns the answer, if any. */
const apply = (set: SeenIds, op: Op, open: { value: boolean }): unknown => {
  switch (op._tag) {
    case "add":
      return set.add(key(op.id), op.at)
    case "has":
      return set.has(key(op.id))
    case "size":
      return set.size
    case "horizon":
      return set.horizon
    case "begin":
      if (open.value) return "already open"
      open.value = true
      return set.begin()
    case "commit":
    case "rollback":
      if (!open.value) return "none open"
      open.value = false
      return op._tag === "commit" ? set.commit() : set.rollback()
  }
}

describe("a restored seen-set", () => {
  it("answers like the set it was persisted from, across adds, commits and rollbacks", () => {
    const seen = { runs: 0, restoredFull: 0, addsBeforeFirstQuestion: 0, pastCapacityBeforeQuestion: 0, hasTrue: 0, hasFalseAfterAdd: 0, hasPending: 0, commits: 0, rollbacksWithAdds: 0, horizonMoved: 0 }
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_CAPACITY }), fc.array(opArb, { maxLength: MAX_OPS, size: "max" }), fc.array(addArb, { maxLength: 2 * MAX_CAPACITY, size: "max" }), fc.array(opArb, { maxLength: MAX_OPS, size: "max" }), (capacity, before, leading, rest) => {
        // A run of adds right after the restore, as the records folded on top of a snapshot make.
        const after: ReadonlyArray<Op> = [...leading, ...rest]
        seen.runs++
        const original = new SeenIds(capacity)
        for (const op of before) if (op._tag === "add") original.add(key(op.id), op.at)
        const persisted = original.persisted()
        const restored = SeenIds.restored(persisted)
        if (persisted.ids.length === capacity) seen.restoredFull++
        const horizonAtRestore = persisted.horizon
        const added = new Set<number>()
        const openOriginal = { value: false }
        const openRestored = { value: false }
        let firstQuestion = after.findIndex((op) => op._tag !== "add")
        if (firstQuestion === -1) firstQuestion = after.length
        if (firstQuestion > 0) seen.addsBeforeFirstQuestion++
        // Past `capacity` adds, the waiting ones are inserted without a question (add's bound).
        if (firstQuestion > capacity) seen.pastCapacityBeforeQuestion++
        let addsInTransaction = 0
        for (const op of after) {
          if (op._tag === "rollback" && openOriginal.value && addsInTransaction > 0) seen.rollbacksWithAdds++
          if (op._tag === "commit" && openOriginal.value) seen.commits++
          if (op._tag === "has" && openOriginal.value && !original.persisted().ids.includes(key(op.id)) && original.has(key(op.id))) seen.hasPending++
          const expected = apply(original, op, openOriginal)
          const actual = apply(restored, op, openRestored)
          expect(actual).toEqual(expected)
          if (op._tag === "has" && expected === true) seen.hasTrue++
          if (op._tag === "has" && expected === false && added.has(op.id)) seen.hasFalseAfterAdd++
          if (op._tag === "add") {
            added.add(op.id)
            if (openOriginal.value) addsInTransaction++
          }
          if (op._tag === "begin" || op._tag === "commit" || op._tag === "rollback") addsInTransaction = 0
        }
        if (openOriginal.value) {
          original.rollback()
          restored.rollback()
        }
        expect(restored.persisted()).toEqual(original.persisted())
        expect(restored.toJSON()).toEqual(original.toJSON())
        if (original.horizon > horizonAtRestore) seen.horizonMoved++
      }),
      { numRuns: RUNS, endOnFailure: true, seed: SEED },
    )
    console.log(`seen-ids property: ${JSON.stringify(seen)}`)
    expect(seen.runs).toBe(RUNS)
    // Each interesting case, often enough to matter (counted, not assumed).
    expect(seen.restoredFull / RUNS).toBeGreaterThan(0.1)
    expect(seen.addsBeforeFirstQuestion / RUNS).toBeGreaterThan(0.2)
    expect(seen.pastCapacityBeforeQuestion / RUNS).toBeGreaterThan(0.1)
    expect(seen.hasTrue).toBeGreaterThan(RUNS)
    expect(seen.hasFalseAfterAdd).toBeGreaterThan(RUNS / 4)
    expect(seen.hasPending).toBeGreaterThan(RUNS / 10)
    expect(seen.commits).toBeGreaterThan(RUNS / 4)
    expect(seen.rollbacksWithAdds).toBeGreaterThan(RUNS / 4)
    expect(seen.horizonMoved / RUNS).toBeGreaterThan(0.2)
  })

  it("whose snapshot repeats an id counts it once, as a fold of its ids would", () => {
    const restored = SeenIds.restored({ capacity: 3, ids: ["user-1/aaaaaaaa", "user-2/bbbbbbbb", "user-1/aaaaaaaa"], times: [10, 20, 30], horizon: 5 })
    const folded = new SeenIds(3)
    folded.add("user-1/aaaaaaaa", 10)
    folded.add("user-2/bbbbbbbb", 20)
    restored.add("user-3/cccccccc", 40)
    folded.add("user-3/cccccccc", 40)
    restored.add("user-4/dddddddd", 50)
    folded.add("user-4/dddddddd", 50)
    expect(restored.has("user-1/aaaaaaaa")).toBe(false)
    expect(restored.size).toBe(3)
    expect(restored.persisted()).toEqual(folded.persisted())
    expect(restored.horizon).toBe(10)
  })
})
