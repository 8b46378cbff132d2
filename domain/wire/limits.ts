/**
 * Every numeric limit on what comes from the wire, in one place. The rule, written once:
 *
 *   what the wire decoder accepts, the log accepts, and the UI can show.
 *
 * - The decoder (`wireLimitViolation` in messages.ts) refuses any number outside these bounds,
 *   before anything is decided. Every bound is far below 2^53, so `max(mine, theirs) + 1` and
 *   every `+ 1` of a counter stay exact integers, storable by the log's schema, for ever.
 * - The decisions (domain/chat/plausible.ts) then check each number against what its sender can
 *   plausibly have sent: a clock no faster than the world can count, an attempt or a version at
 *   most MAX_STEP beyond the last one known from that sender, a time not far in the future.
 * - The log (events.ts) accepts every safe integer, a superset: records that an older version
 *   stored before these bounds existed must still open. The fold clamps the Lamport clock
 *   (`clockCeiling`), and the UI formats any stored time (adapters/tui/timeline.ts).
 *
 * docs/protocol.md, section 8, lists each field, its bound and why.
 */
import { Schema } from "effect"

/**
 * The stored form of every number: any safe integer (>= 0, >= 1). The log's schema (events.ts) and
 * the structure of an envelope (messages.ts, which the log stores inside records) use these; the
 * wire's tighter bounds below are checked on top, on what arrives (`wireLimitViolation`).
 */
export const StoredNonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
export const StoredPositiveInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))

/**
 * Counters a sender keeps: attempts, `ends`/`refuses`, message numbers `n`, group `version`,
 * presence `session` and `connection`. A signed 32-bit integer, which every JSON reader in every
 * language holds exactly; one change of mind, one message or one restart a second for 68 years.
 */
export const MAX_COUNTER = 2_147_483_647

/**
 * Lamport clocks (`clock`, `foundedClock`) on the wire. 2^52: half of what a double holds exactly,
 * so a profile whose clock sits at the bound still counts `+ 1` per record for 4.5e15 records.
 */
export const MAX_WIRE_CLOCK = 2 ** 52

/** `ts`, ms since the epoch: every Date can hold and format it (the end of the year 9999, UTC). */
export const MAX_TIMESTAMP_MS = 253_402_300_799_999

/**
 * How far a sender's attempt (one-to-one stances, join requests) or a group's version may run
 * ahead of the last one I know from it. Each change of mind sends me one message, so a gap means
 * that many of its messages were lost; more than MAX_STEP in a row is not a plausible loss, it is
 * a number chosen to make every later message of the real sender look stale.
 */
export const MAX_STEP = 1000

/**
 * The Lamport clock cannot run faster than the world can count. A clock counts decisions along
 * one causal chain, and each link is a message received and stored: a million a second is far
 * beyond any chain, so since CLOCK_EPOCH_MS no honest clock can exceed
 * (now - CLOCK_EPOCH_MS) x CLOCK_RATE_PER_MS. The bound grows a million a second, while honest
 * clocks grow by the events they see, so even a network pushed to the bound keeps counting.
 */
export const CLOCK_EPOCH_MS = 1_704_067_200_000 // 2024-01-01T00:00:00Z
export const CLOCK_RATE_PER_MS = 1000
/** The ceiling never drops below this (a machine whose clock says 1970 still works): 2^40. */
export const CLOCK_FLOOR = 2 ** 40
/** Senders' wall clocks may be ahead of mine by this much before their Lamport clocks are refused. */
export const MAX_CLOCK_SKEW_MS = 24 * 60 * 60 * 1000

/** The highest Lamport clock plausible at wall time `atMs`: my own clock never exceeds it. */
export const clockCeiling = (atMs: number): number =>
  Math.min(MAX_WIRE_CLOCK, Math.max(CLOCK_FLOOR, Math.floor((atMs - CLOCK_EPOCH_MS) * CLOCK_RATE_PER_MS)))

/** The highest clock I accept from a sender at my wall time `nowMs`: its wall clock may be ahead of mine. */
export const acceptableClock = (nowMs: number): number => clockCeiling(nowMs + MAX_CLOCK_SKEW_MS)

/**
 * A message's `ts` further ahead of my clock than this is not believed: it is shown at the time it
 * arrived. Clocks that are off by minutes are common; a message from more than an hour ahead is not.
 */
export const MAX_FUTURE_TS_MS = 60 * 60 * 1000

/** Whether `n` is an integer in [min, max] exactly as JSON carries it (no -0: it would not survive the log). */
export const isBoundedInt = (n: number, min: number, max: number): boolean =>
  Number.isSafeInteger(n) && n >= min && n <= max && !Object.is(n, -0)
