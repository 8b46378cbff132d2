/**
 * The seen-set in a snapshot's state travels as two strings (ids joined by newlines, times by
 * commas) that the codec checks in one pass each (domain/snapshot/state-codec.ts). Times read back
 * as written; every malformed times string is refused as an inconsistent state, never a crash and
 * never a set with wrong times.
 */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { initialChatState } from "../../domain/chat/chat-state.ts"
import { decodeFoldedProfile, encodeFoldedProfile } from "../../domain/snapshot/state-codec.ts"

const TIMES = [0, 7, 1_733_000_000_123, 9_007_199_254_740_991]

const encoded = (): string => {
  const state = initialChatState()
  TIMES.forEach((at, i) => state.seen.add(`user-${10 + i}/envelope${i}xyz`, at))
  return encodeFoldedProfile({ state, createdKeys: null })
}

/** The encoded state with its seen times replaced by `times`. */
const withTimes = (times: string): string => {
  const json = JSON.parse(encoded()) as { seen: { times: string } }
  json.seen.times = times
  return JSON.stringify(json)
}

describe("the seen-set's times in a snapshot", () => {
  it("read back as written", () => {
    const decoded = decodeFoldedProfile(encoded())
    if (Result.isFailure(decoded)) throw new Error(decoded.failure)
    expect(decoded.success.state.seen.persisted().times).toEqual(TIMES)
    expect(decodeFoldedProfile(withTimes(TIMES.join(","))).pipe(Result.isSuccess)).toBe(true)
  })

  it.each([
    ["one time too few", "0,7,1733000000123"],
    ["one too many", `${TIMES.join(",")},5`],
    ["an empty time", "0,,1733000000123,9007199254740991"],
    ["a trailing comma", `${TIMES.join(",")},`],
    ["a leading zero", "0,07,1733000000123,9007199254740991"],
    ["a sign", "0,-7,1733000000123,9007199254740991"],
    ["a space", "0, 7,1733000000123,9007199254740991"],
    ["a fraction", "0,7.5,1733000000123,9007199254740991"],
    ["17 digits", "0,7,1733000000123,12345678901234567"],
    ["past the safe integers", "0,7,1733000000123,9007199254740993"],
    ["nothing", ""],
  ])("%s: refused", (_, times) => {
    const decoded = decodeFoldedProfile(withTimes(times))
    expect(Result.isFailure(decoded)).toBe(true)
    if (Result.isFailure(decoded)) expect(decoded.failure).toMatch(/the state is inconsistent: seen: (time \d+ is not a time|times and count disagree|ids, times and count disagree)/)
  })
})
