/**
 * Group messages that came before what is needed to read them: the key of their version, or the
 * group information that names their sender (or me) a member. The leader publishes both, but a
 * broker does not keep the order of two publishers (the leader's information, a new member's first
 * message), and a reader that just came back may hear the members before the leader. Dropping them
 * lost messages for good when nothing followed (found by the simulator: seed 3, 6 users, 2,500
 * steps). They wait here instead and are decided again when a record about their group is stored.
 *
 * Only frames whose signature verified get here (the secure channel checks it before anything
 * else), so what waits is what its signer sent. Bounded per group and in all, and by age: a
 * stranger filling a group's topic pushes out only the oldest waiting frames, never anything
 * stored. What waits is in memory: a crash forgets it (the broker already had our PUBACK).
 */
export const MAX_AWAITING_PER_GROUP = 256
export const MAX_AWAITING = 2048
/** A frame still unreadable after this long is given up (and reported as its first reason). */
export const AWAITING_GROUP_MS = 10 * 60 * 1000

/** The refusals that mean "not yet", not "never": secure-channel.ts and decide.ts word them. */
const NOT_YET = [/^no key to read #/, /^group message from non-member /, /^group message for .*, which I am not in$/]

export const isNotYetReadable = (reason: string): boolean => NOT_YET.some((pattern) => pattern.test(reason))

export interface Waiting<A> {
  readonly item: A
  /** When it first waited: a frame decided again and still unreadable keeps its first time. */
  readonly since: number
  readonly reason: string
}

/** `A`: what the service decides again (its job, lane included). */
export class AwaitingGroup<A> {
  private readonly byGroup = new Map<string, Waiting<A>[]>()
  private count = 0

  /** Keeps a frame for `group`; the oldest of that group (or of all) makes room. Returns what was pushed out. */
  hold(group: string, item: A, reason: string, since: number): ReadonlyArray<Waiting<A>> {
    const evicted: Waiting<A>[] = []
    const list = this.byGroup.get(group) ?? []
    if (list.length >= MAX_AWAITING_PER_GROUP) {
      const oldest = list.shift()
      if (oldest !== undefined) evicted.push(oldest)
      this.count -= 1
    }
    if (this.count >= MAX_AWAITING) evicted.push(...this.evictOldest())
    list.push({ item, since, reason })
    this.byGroup.set(group, list)
    this.count += 1
    if (this.count > MAX_AWAITING) throw new Error(`invariant: ${this.count} frames awaiting, over ${MAX_AWAITING}`)
    return evicted
  }

  /** Everything waiting for `group`, in arrival order, to be decided again (and held again if still too early). */
  release(group: string): ReadonlyArray<Waiting<A>> {
    const list = this.byGroup.get(group)
    if (list === undefined) return []
    this.byGroup.delete(group)
    this.count -= list.length
    return list
  }

  /** Frames waiting longer than AWAITING_GROUP_MS: given up. */
  expire(now: number): ReadonlyArray<Waiting<A>> {
    const expired: Waiting<A>[] = []
    for (const [group, list] of this.byGroup) {
      const keep = list.filter((waiting) => now - waiting.since < AWAITING_GROUP_MS)
      if (keep.length === list.length) continue
      expired.push(...list.filter((waiting) => now - waiting.since >= AWAITING_GROUP_MS))
      this.count -= list.length - keep.length
      if (keep.length === 0) this.byGroup.delete(group)
      else this.byGroup.set(group, keep)
    }
    return expired
  }

  get size(): number {
    return this.count
  }

  private evictOldest(): ReadonlyArray<Waiting<A>> {
    let oldestGroup: string | undefined
    let oldestSince = Infinity
    for (const [group, list] of this.byGroup) {
      const first = list[0]
      if (first !== undefined && first.since < oldestSince) {
        oldestSince = first.since
        oldestGroup = group
      }
    }
    if (oldestGroup === undefined) return []
    const list = this.byGroup.get(oldestGroup)!
    const oldest = list.shift()!
    this.count -= 1
    if (list.length === 0) this.byGroup.delete(oldestGroup)
    return [oldest]
  }
}
