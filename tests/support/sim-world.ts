/**
 * Tests on the one engine (apps/sim/harness.ts): real chat services in a simulation world, with
 * the few moves most tests need (a world started and drained, an open conversation, a group with
 * members). Call `closeWorlds` in afterEach / afterAll.
 */
import type { GroupName, UserId } from "../../domain/ids.ts"
import { restoreIdentity } from "../../domain/trust/identity.ts"
import type { WorldOptions } from "../../apps/sim/harness.ts"
import { openWorld, type OpenWorld } from "../../apps/sim/open-world.ts"
import { makeSigner } from "./forger.ts"

const opened: OpenWorld[] = []

/** A world of `users` users, none started yet. */
export const newWorld = async (users: number, seed = 1, options: Partial<WorldOptions> = {}): Promise<OpenWorld> => {
  const world = await openWorld({ ...options, seed, users })
  opened.push(world)
  return world
}

/** A world whose users have all started, and heard each other's presence. */
export const startedWorld = async (users: number, seed = 1, options: Partial<WorldOptions> = {}): Promise<OpenWorld> => {
  const world = await newWorld(users, seed, options)
  await world.startAll()
  await world.drain()
  return world
}

export const closeWorlds = async (): Promise<void> => {
  for (const world of opened.splice(0)) await world.close()
}

/** Fails the test with the reason when a command is refused. */
export const must = async (world: OpenWorld, ...[index, command]: Parameters<OpenWorld["command"]>): Promise<void> => {
  const refused = await world.command(index, command)
  if (refused !== null) throw new Error(`${world.ids[index]} ${command._tag}: refused: ${refused}`)
  await world.drain()
}

/** User `a` asks `b`, `b` accepts: an open conversation on both sides. */
export const openConversation = async (world: OpenWorld, a: number, b: number): Promise<void> => {
  await must(world, a, { _tag: "conversation.request", peer: world.ids[b]! })
  await must(world, b, { _tag: "conversation.accept", peer: world.ids[a]! })
}

/** `leader` founds `group`; each of `members` asks to join and is admitted. */
export const groupWith = async (world: OpenWorld, leader: number, group: GroupName, members: ReadonlyArray<number>): Promise<void> => {
  await must(world, leader, { _tag: "group.create", group })
  for (const member of members) {
    await must(world, member, { _tag: "group.join", group })
    await must(world, leader, { _tag: "group.accept", group, user: world.ids[member]! as UserId })
  }
}

/**
 * Frames signed with user `index`'s own keys (a malicious or compromised user: what it can send),
 * put in `to`'s queue at the broker as if routed there; then everything is delivered.
 */
export const sendSignedAs = async (world: OpenWorld, index: number, to: number, topic: string, message: string): Promise<void> => {
  world.inject(to, topic, signerOf(world, index).frameText(topic, message))
  await world.drain()
}

/** The signer of user `index` (its identity as stored, after its first start). */
export const signerOf = (world: OpenWorld, index: number) => {
  const stored = world.world.user(index).identity.current
  const identity = stored === null ? null : restoreIdentity(stored)
  if (identity === null) throw new Error(`${world.ids[index]} has no identity yet (start it first)`)
  return makeSigner(identity)
}
