/**
 * Identifiers and topic names. This is the ONLY place where MQTT topic strings are built, and they
 * are built only from values that passed these schemas: a topic made from unchecked text can carry
 * `+`, `#`, `/` or NUL and either hijack a subscription or make the broker drop the connection.
 */
import { Schema } from "effect"

/** `user-` followed by 1..12 digits. Profiles generate 5 digits, like the design note's `user-32563`. */
export const USER_ID_PATTERN = /^user-[0-9]{1,12}$/
export const UserId = Schema.String.check(Schema.isPattern(USER_ID_PATTERN)).pipe(Schema.brand("UserId"))
export type UserId = typeof UserId.Type

/** Letters, digits, `_` and `-`, 1..32 characters, starting with a letter or digit. */
export const GROUP_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/
export const GroupName = Schema.String.check(Schema.isPattern(GROUP_NAME_PATTERN)).pipe(Schema.brand("GroupName"))
export type GroupName = typeof GroupName.Type

/** Message ids: sender-chosen, unique per sender; used to drop QoS 1 duplicates. */
export const MESSAGE_ID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/
export const MessageId = Schema.String.check(Schema.isPattern(MESSAGE_ID_PATTERN)).pipe(Schema.brand("MessageId"))
export type MessageId = typeof MessageId.Type

export const Topic = Schema.String.pipe(Schema.brand("Topic"))
export type Topic = typeof Topic.Type

const isUserId = Schema.is(UserId)
const isGroupName = Schema.is(GroupName)

/** Validates at runtime even when the type says it is valid: a cast upstream must not reach the broker. */
export function assertUserId(value: string): asserts value is UserId {
  if (!isUserId(value)) throw new Error(`invalid user id: ${JSON.stringify(value).slice(0, 40)}`)
}
export function assertGroupName(value: string): asserts value is GroupName {
  if (!isGroupName(value)) throw new Error(`invalid group name: ${JSON.stringify(value).slice(0, 40)}`)
}

export const userDigits = (user: UserId): string => user.slice("user-".length)

/** Numeric order of user ids (by digits, not by string): `user-9` < `user-10`. */
export const compareUserIds = (a: UserId, b: UserId): number => {
  const da = userDigits(a)
  const db = userDigits(b)
  if (da.length !== db.length) return da.length - db.length
  return da < db ? -1 : da > db ? 1 : 0
}

export const GLOBAL_CONTROL = "global_control" as Topic

export const topics = {
  globalControl: GLOBAL_CONTROL,
  /** Retained per-user presence: a retained message keeps only the last payload, so each user needs its own topic. */
  presence: (user: UserId): Topic => {
    assertUserId(user)
    return `global_control/presence/${user}` as Topic
  },
  presenceWildcard: "global_control/presence/+" as Topic,
  /** Retained group information (name, leader, members) readable by everyone. */
  groupInfo: (group: GroupName): Topic => {
    assertGroupName(group)
    return `global_control/groups/${group}` as Topic
  },
  groupInfoWildcard: "global_control/groups/+" as Topic,
  control: (user: UserId): Topic => {
    assertUserId(user)
    return `${user}_control` as Topic
  },
  /** The pair's topic: both digit strings, lower first, so both sides compute the same name. */
  talk: (a: UserId, b: UserId): Topic => {
    assertUserId(a)
    assertUserId(b)
    if (a === b) throw new Error("a conversation needs two different users")
    const [low, high] = compareUserIds(a, b) < 0 ? [a, b] : [b, a]
    return `${userDigits(low)}_${userDigits(high)}_talk` as Topic
  },
  groupTalk: (group: GroupName): Topic => {
    assertGroupName(group)
    return `group_${group}_talk` as Topic
  },
} as const

const TALK_TOPIC = /^([0-9]{1,12})_([0-9]{1,12})_talk$/
const GROUP_TALK_TOPIC = /^group_([A-Za-z0-9][A-Za-z0-9_-]{0,31})_talk$/
const PRESENCE_TOPIC = /^global_control\/presence\/(user-[0-9]{1,12})$/
const GROUP_INFO_TOPIC = /^global_control\/groups\/([A-Za-z0-9][A-Za-z0-9_-]{0,31})$/
const CONTROL_TOPIC = /^(user-[0-9]{1,12})_control$/

/** What an incoming topic is, or `unknown` — never trusted beyond this shape. */
export type TopicKind =
  | { readonly kind: "global" }
  | { readonly kind: "presence"; readonly user: UserId }
  | { readonly kind: "groupInfo"; readonly group: GroupName }
  | { readonly kind: "control"; readonly user: UserId }
  | { readonly kind: "talk"; readonly users: readonly [UserId, UserId] }
  | { readonly kind: "groupTalk"; readonly group: GroupName }
  | { readonly kind: "unknown" }

export const parseTopic = (topic: string): TopicKind => {
  if (topic === GLOBAL_CONTROL) return { kind: "global" }
  let m = PRESENCE_TOPIC.exec(topic)
  if (m) return { kind: "presence", user: m[1] as UserId }
  m = GROUP_INFO_TOPIC.exec(topic)
  if (m) return { kind: "groupInfo", group: m[1] as GroupName }
  m = CONTROL_TOPIC.exec(topic)
  if (m) return { kind: "control", user: m[1] as UserId }
  m = TALK_TOPIC.exec(topic)
  if (m && m[1] !== m[2]) return { kind: "talk", users: [`user-${m[1]}` as UserId, `user-${m[2]}` as UserId] }
  m = GROUP_TALK_TOPIC.exec(topic)
  if (m) return { kind: "groupTalk", group: m[1] as GroupName }
  return { kind: "unknown" }
}
