/**
 * Decisions: a user command or an incoming wire message becomes ONE log entry (the event plus the
 * wire messages it sends), or is refused / dropped with a reason. Pure: time and ids come in through
 * `DecisionContext`. The shell appends the entry, then publishes its `out`, then folds the stored
 * record with `evolve` — the same `step` as here, so live and replayed states cannot diverge.
 */
import { Result } from "effect"
import type { DomainEvent, LogEntry, LogRecord, Outgoing } from "../events.ts"
import { parseTopic, topics, type GroupName, type MessageId, type Topic, type UserId } from "../ids.ts"
import { envelopeBytes, MAX_GROUP_MEMBERS, MAX_PAYLOAD_BYTES, MAX_RESEND_NUMBERS, MAX_TEXT_CHARS, PROTOCOL_VERSION, wireLimitViolation, type Body, type Envelope, type GroupInfo } from "../wire/messages.ts"
import { MAX_COUNTER } from "../wire/limits.ts"
import { believableTime, implausibleNumbers } from "./plausible.ts"
import { overBudget } from "./budgets.ts"
import {
  conversationOf,
  conversationView,
  groupOf,
  groupView,
  inboundKey,
  MAX_HELD_PER_SENDER,
  presenceOf,
  requireMe,
  seenKey,
  step,
  type ChatState,
  type HeldMessage,
  type InboundOrder,
  type StepAction,
} from "./chat-state.ts"
import { conversationMachine } from "../conversation/conversation.machine.ts"
import type { PublicKeys } from "../trust/identity.ts"
import { groupMachine } from "../group/group.machine.ts"
import { presenceMachine } from "../presence/presence.machine.ts"

export interface DecisionContext {
  /** Wall clock, ms. Display only. */
  readonly now: number
  readonly newMessageId: () => MessageId
}

/** Why a command was refused: said to the user as is. */
export interface Rejection {
  readonly reason: string
}

/** Why an incoming message was dropped: counted and logged, never shown as chat. */
export interface Drop {
  readonly reason: string
  /** Normal traffic (my own echoes, QoS 1 duplicates, repeats): counted, not reported as trouble. */
  readonly routine: boolean
}

export type Command =
  /** `keys`: the identity's public keys (the simulator's users have none). */
  | { readonly _tag: "profile.create"; readonly user: UserId; readonly keys?: PublicKeys }
  | { readonly _tag: "session.start" }
  | { readonly _tag: "session.end" }
  | { readonly _tag: "conversation.request"; readonly peer: UserId }
  | { readonly _tag: "conversation.accept"; readonly peer: UserId }
  | { readonly _tag: "conversation.refuse"; readonly peer: UserId; readonly reason: string }
  | { readonly _tag: "conversation.leave"; readonly peer: UserId }
  | { readonly _tag: "conversation.timeout"; readonly peer: UserId }
  /** Put an ended conversation out of sight (a request to a mistyped id, withdrawn, stays gone). */
  | { readonly _tag: "conversation.dismiss"; readonly peer: UserId }
  | { readonly _tag: "message.send"; readonly target: ChatTarget; readonly text: string }
  | { readonly _tag: "group.create"; readonly group: GroupName }
  | { readonly _tag: "group.join"; readonly group: GroupName }
  | { readonly _tag: "group.accept"; readonly group: GroupName; readonly user: UserId }
  | { readonly _tag: "group.refuse"; readonly group: GroupName; readonly user: UserId; readonly reason: string }
  | { readonly _tag: "group.leave"; readonly group: GroupName }
  /** Accept a peer's changed keys (after comparing the safety number out of band). */
  | { readonly _tag: "peer.trust"; readonly peer: UserId }

export type ChatTarget = { readonly _tag: "peer"; readonly peer: UserId } | { readonly _tag: "group"; readonly group: GroupName }

export const targetTopic = (me: UserId, target: ChatTarget): Topic =>
  target._tag === "peer" ? topics.talk(me, target.peer) : topics.groupTalk(target.group)

const reject = (reason: string): Result.Result<never, Rejection> => Result.fail({ reason })

const envelope = (state: ChatState, clock: number, context: DecisionContext, body: Body, id?: MessageId): Envelope => ({
  v: PROTOCOL_VERSION,
  id: id ?? context.newMessageId(),
  from: requireMe(state),
  ts: context.now,
  clock,
  body,
})

/**
 * The presence announcement of one connection, on the retained per-user topic and on global_control.
 * Not logged: presence is about the connection, and is stale after a restart.
 */
export const presenceOut = (
  state: ChatState,
  clock: number,
  context: DecisionContext,
  status: "online" | "offline",
  position: { readonly session: number; readonly connection: number },
): ReadonlyArray<Outgoing> => {
  const me = requireMe(state)
  const env = envelope(state, clock, context, { _tag: "presence", status, session: position.session, connection: position.connection })
  return [
    { topic: topics.presence(me), retain: true, envelope: env },
    { topic: topics.globalControl, retain: false, envelope: { ...env, id: context.newMessageId() } },
  ]
}

/**
 * The retained information of a group I lead, published again as it stands (not logged: it repairs
 * the broker's copy, see retained.ts), or nothing if I do not lead it.
 */
export const groupInfoOut = (state: ChatState, clock: number, context: DecisionContext, group: GroupName): ReadonlyArray<Outgoing> => {
  const info = state.groups.get(group)?.context.info
  if (groupView(state, group) !== "leading" || info === null || info === undefined) return []
  return [{ topic: topics.groupInfo(group), retain: true, envelope: envelope(state, clock, context, { _tag: "group.info", info }) }]
}

/** Machine actions → wire messages. */
const toOutgoing = (state: ChatState, clock: number, context: DecisionContext, actions: ReadonlyArray<StepAction>, event: DomainEvent): ReadonlyArray<Outgoing> => {
  const me = requireMe(state)
  return actions.flatMap((item): ReadonlyArray<Outgoing> => {
    if (item.machine === "conversation") {
      const { kind, stance } = item.action.params
      const to = item.peer
      const topic = topics.talk(me, to)
      const reason = event._tag === "conversation.refuse.sent" ? event.reason : event._tag === "conversation.timed-out" ? "the request timed out" : ""
      const body: Body =
        kind === "request" ? { _tag: "chat.request", to, attempt: stance.attempt, ends: stance.refuses ?? 0 }
        : kind === "accept" ? { _tag: "chat.accept", to, attempt: stance.attempt, topic }
        : kind === "refuse" ? { _tag: "chat.refuse", to, attempt: stance.attempt, refuses: stance.refuses ?? 0, reason }
        : { _tag: "chat.leave", to, attempt: stance.attempt, ends: stance.refuses ?? 0, topic }
      return [{ topic: topics.control(to), retain: false, envelope: envelope(state, clock, context, body) }]
    }
    const group = item.group
    const action = item.action
    switch (action.type) {
      case "publish.info":
        return [{ topic: topics.groupInfo(group), retain: true, envelope: envelope(state, clock, context, { _tag: "group.info", info: action.params.info }) }]
      case "send.join":
        return [{ topic: topics.control(action.params.leader), retain: false, envelope: envelope(state, clock, context, { _tag: "group.join", group, attempt: action.params.attempt }) }]
      case "send.accept":
        return [{
          topic: topics.control(action.params.to),
          retain: false,
          envelope: envelope(state, clock, context, { _tag: "group.accept", group, to: action.params.to, attempt: Math.max(1, action.params.attempt), info: action.params.info }),
        }]
      case "send.refuse":
        return [{
          topic: topics.control(action.params.to),
          retain: false,
          envelope: envelope(state, clock, context, { _tag: "group.refuse", group, to: action.params.to, attempt: Math.max(1, action.params.attempt), reason: action.params.reason }),
        }]
      case "send.refuseAll": {
        const reason = action.params.reason
        return action.params.refusals.map((p) => ({
          topic: topics.control(p.user),
          retain: false,
          envelope: envelope(state, clock, context, { _tag: "group.refuse", group, to: p.user, attempt: Math.max(1, p.attempt), reason }),
        }))
      }
      case "send.leave":
        return [{ topic: topics.control(action.params.leader), retain: false, envelope: envelope(state, clock, context, { _tag: "group.leave", group }) }]
    }
  })
}

/** Steps the event and packs the result; `extraOut` goes first (presence, chat text). */
const entryFor = (state: ChatState, event: DomainEvent, clock: number, context: DecisionContext, extraOut: ReadonlyArray<Outgoing> = []): LogEntry =>
  entryFromStep(state, event, clock, context, step(state, { seq: state.lastSeq + 1, at: context.now, clock, event }), extraOut)

/** The entry for an event already stepped (its actions become the wire messages). */
const entryFromStep = (
  state: ChatState,
  event: DomainEvent,
  clock: number,
  context: DecisionContext,
  stepped: { readonly actions: ReadonlyArray<StepAction> },
  extraOut: ReadonlyArray<Outgoing> = [],
): LogEntry => ({ at: context.now, clock, event, out: [...extraOut, ...toOutgoing(state, clock, context, stepped.actions, event)] })

/** A user's command → one entry, or a rejection the user reads. */
export const decideCommand = (state: ChatState, command: Command, context: DecisionContext): Result.Result<LogEntry, Rejection> => {
  const clock = state.clock + 1
  if (command._tag === "profile.create") {
    if (state.me !== null) return reject(`this profile already is ${state.me}`)
    return Result.succeed({ at: context.now, clock, event: { _tag: "profile.created", user: command.user, ...(command.keys === undefined ? {} : { keys: command.keys }) }, out: [] })
  }
  if (state.me === null) return reject("create the profile first")
  const me = state.me
  const event = ((): Result.Result<DomainEvent, Rejection> => {
    switch (command._tag) {
      case "session.start":
        // The session number is in every presence message: it must stay within what receivers accept.
        if (state.session + 1 > MAX_COUNTER) return reject(`this profile has reached the limit of ${MAX_COUNTER} sessions`)
        return Result.succeed({ _tag: "session.started", session: state.session + 1 })
      case "session.end":
        return state.online ? Result.succeed({ _tag: "session.ended", session: state.session }) : reject("not online")
      case "conversation.request": {
        if (command.peer === me) return reject("you cannot start a conversation with yourself")
        const view = conversationView(state, command.peer)
        if (view === "active") return reject(`already talking with ${command.peer}`)
        if (view === "outgoing") return reject(`already waiting for ${command.peer} to answer`)
        // Asking someone who asked us is accepting (the machine turns it into an acceptance).
        return Result.succeed({ _tag: view === "incoming" ? "conversation.accept.sent" : "conversation.request.sent", peer: command.peer })
      }
      case "conversation.accept":
        return conversationView(state, command.peer) === "incoming"
          ? Result.succeed({ _tag: "conversation.accept.sent", peer: command.peer })
          : reject(`no pending request from ${command.peer}`)
      case "conversation.refuse":
        return conversationView(state, command.peer) === "incoming"
          ? Result.succeed({ _tag: "conversation.refuse.sent", peer: command.peer, reason: command.reason.slice(0, 200) })
          : reject(`no pending request from ${command.peer}`)
      case "conversation.leave": {
        const view = conversationView(state, command.peer)
        return view === "active" || view === "outgoing"
          ? Result.succeed({ _tag: "conversation.leave.sent", peer: command.peer })
          : reject(`no conversation with ${command.peer} to leave`)
      }
      case "conversation.timeout": {
        const view = conversationView(state, command.peer)
        return view === "outgoing" || view === "incoming"
          ? Result.succeed({ _tag: "conversation.timed-out", peer: command.peer })
          : reject(`nothing pending with ${command.peer}`)
      }
      case "conversation.dismiss": {
        const view = conversationView(state, command.peer)
        if (view === "closed") return state.dismissed.has(command.peer) ? reject(`the conversation with ${command.peer} is already closed`) : Result.succeed({ _tag: "conversation.dismissed", peer: command.peer })
        return reject(view === "idle" ? `no conversation with ${command.peer} to close` : `the conversation with ${command.peer} is ${view}: leave, withdraw or refuse it first`)
      }
      case "message.send": {
        const text = command.text
        if (text.trim().length === 0) return reject("empty message")
        if (text.length > MAX_TEXT_CHARS) return reject(`message too long (${text.length} > ${MAX_TEXT_CHARS} characters)`)
        const target = command.target
        if (target._tag === "peer" && conversationView(state, target.peer) !== "active") return reject(`no active conversation with ${target.peer}`)
        if (target._tag === "group") {
          const view = groupView(state, target.group)
          if (view !== "member" && view !== "leading") return reject(`you are not a member of ${target.group}`)
        }
        const topic = targetTopic(me, target)
        return Result.succeed({ _tag: "message.sent", id: context.newMessageId(), topic, text, n: (state.topics.get(topic)?.sent ?? 0) + 1 })
      }
      case "group.create": {
        const view = groupView(state, command.group)
        return view === "absent" ? Result.succeed({ _tag: "group.created", group: command.group }) : reject(`group ${command.group} already exists`)
      }
      case "group.join": {
        const view = groupView(state, command.group)
        if (view === "absent") return reject(`no group named ${command.group}`)
        if (view === "member" || view === "leading") return reject(`you already are in ${command.group}`)
        return Result.succeed({ _tag: "group.join.sent", group: command.group })
      }
      case "group.accept":
      case "group.refuse": {
        const snapshot = state.groups.get(command.group)
        if (groupView(state, command.group) !== "leading" || snapshot === undefined) return reject(`you do not lead ${command.group}`)
        if (!snapshot.context.pending.some((p) => p.user === command.user)) return reject(`no pending request from ${command.user} for ${command.group}`)
        if (command._tag === "group.accept" && (snapshot.context.info?.members.length ?? 0) >= MAX_GROUP_MEMBERS) {
          return reject(`${command.group} is full (${MAX_GROUP_MEMBERS} members)`)
        }
        return command._tag === "group.accept"
          ? Result.succeed({ _tag: "group.accept.sent", group: command.group, member: command.user })
          : Result.succeed({ _tag: "group.refuse.sent", group: command.group, member: command.user, reason: command.reason.slice(0, 200) })
      }
      case "peer.trust": {
        const changed = state.trust.keyChanges[command.peer]
        return changed === undefined
          ? reject(`no changed keys of ${command.peer} wait for a decision`)
          : Result.succeed({ _tag: "peer.key.trusted", user: command.peer, keys: changed })
      }
      case "group.leave": {
        const view = groupView(state, command.group)
        // Joining: the leave withdraws my request (the leader drops it; a crossing acceptance is left at once).
        return view === "member" || view === "leading" || view === "joining" ? Result.succeed({ _tag: "group.leave.sent", group: command.group }) : reject(`you are not in ${command.group}`)
      }
    }
  })()
  if (Result.isFailure(event)) return Result.fail(event.failure)
  const decided = event.success
  const extra: ReadonlyArray<Outgoing> =
    decided._tag === "message.sent" ? [{ topic: decided.topic, retain: false, envelope: envelope(state, clock, context, chatBody(command, decided.text, decided.n), decided.id) }]
    : []
  const entry = entryFor(state, decided, clock, context, extra)
  // Every message must fit the receivers' cap once encoded (JSON escapes can grow text sixfold).
  const oversize = entry.out.find((out) => envelopeBytes(out.envelope).byteLength > MAX_PAYLOAD_BYTES)
  if (oversize !== undefined) return reject(`too long once encoded (over ${MAX_PAYLOAD_BYTES} bytes); shorten it`)
  // …and carry only numbers every receiver's decoder accepts (a counter at its limit stops here).
  const beyond = beyondWireLimits([entry])
  if (beyond !== null) return reject(`not sent: ${beyond}`)
  return Result.succeed(entry)
}

/** The first outgoing envelope with a number outside the wire's limits (limits.ts), said in words; null if none. */
const beyondWireLimits = (entries: ReadonlyArray<LogEntry>): string | null => {
  for (const entry of entries) {
    for (const out of entry.out) {
      const violation = wireLimitViolation(out.envelope)
      if (violation !== undefined) return `${out.envelope.body._tag} would pass the protocol's limit at ${violation.path.join(".")} (${violation.issue})`
    }
  }
  return null
}

const chatBody = (command: Command, text: string, n: number): Body =>
  command._tag === "message.send" && command.target._tag === "group" ? { _tag: "group.message", group: command.target.group, text, n } : { _tag: "chat.message", text, n }

const drop = (reason: string): Result.Result<never, Drop> => Result.fail({ reason, routine: false })
const routine = (reason: string): Result.Result<never, Drop> => Result.fail({ reason, routine: true })

/** Messages whose ids the seen-set keeps (retained presence and group information are ordered by their own numbers instead). */
const REPLAYABLE: ReadonlySet<string> = new Set(["chat.request", "chat.accept", "chat.refuse", "chat.leave", "chat.message", "group.join", "group.message"])
/** Senders' clocks run a little behind: a day of slack before a message counts as too old to check. */
export const REPLAY_MARGIN_MS = 24 * 60 * 60 * 1000

/**
 * An incoming envelope on `topic` → the event it means, or a drop. Every check that a spoofed or
 * misrouted message could fail is here: the topic must fit the type, the sender must fit the topic,
 * control messages must be addressed to me.
 */
export const interpretIncoming = (state: ChatState, topic: string, env: Envelope): Result.Result<DomainEvent, Drop> => {
  const me = requireMe(state)
  if (env.from === me && !(env.body._tag === "group.info" && forgedInMyName(state, env.body.info))) return routine("my own message")
  if (state.seen.has(seenKey(env.from, env.id))) return routine("duplicate")
  // Sent before the oldest id the seen-set has forgotten: it may be a replay of one it forgot.
  if (REPLAYABLE.has(env.body._tag) && state.seen.horizon > 0 && env.ts + REPLAY_MARGIN_MS <= state.seen.horizon) {
    return drop(`${env.body._tag} sent before ${new Date(state.seen.horizon).toISOString().slice(0, 10)}, older than what I can still check for a replay`)
  }
  const where = parseTopic(topic)
  const body = env.body
  const onMyControl = where.kind === "control" && where.user === me
  switch (body._tag) {
    case "presence":
      // Only the per-user retained topic counts: the broker lets nobody else write it (ACL). The
      // copy on global_control is an announcement anyone could forge.
      if (where.kind === "global") return routine("presence announcement on global_control (state follows the per-user topic)")
      if (where.kind !== "presence") return drop(`presence on ${where.kind} topic`)
      if (where.user !== env.from) return drop("presence for another user")
      return Result.succeed({ _tag: "presence.observed", user: env.from, status: body.status, session: body.session, connection: body.connection })
    case "chat.request":
    case "chat.accept":
    case "chat.refuse":
    case "chat.leave": {
      if (!onMyControl) return drop(`${body._tag} outside my control topic`)
      if (body.to !== me) return drop(`${body._tag} addressed to ${body.to}`)
      if ((body._tag === "chat.accept" || body._tag === "chat.leave") && body.topic !== topics.talk(me, env.from)) return drop("wrong talk topic")
      const kind = body._tag === "chat.request" ? "request" : body._tag === "chat.accept" ? "accept" : body._tag === "chat.refuse" ? "refuse" : "leave"
      return Result.succeed({
        _tag: "conversation.stance.received",
        peer: env.from,
        kind,
        attempt: body.attempt,
        refuses: body._tag === "chat.refuse" ? body.refuses : (body._tag === "chat.leave" || body._tag === "chat.request") && body.ends > 0 ? body.ends : null,
        requestId: env.id,
        reason: body._tag === "chat.refuse" ? body.reason : "",
      })
    }
    case "chat.message": {
      if (where.kind !== "talk") return drop("chat message outside a talk topic")
      if (!where.users.includes(me) || !where.users.includes(env.from)) return drop("chat message on someone else's topic")
      const view = conversationView(state, env.from)
      // Outgoing: the peer accepted and wrote before its acceptance reached us (different topics, no order).
      if (view !== "active" && view !== "outgoing") return drop(`chat message while the conversation is ${view}`)
      return Result.succeed({ _tag: "message.received", id: env.id, from: env.from, topic: topic as Topic, text: body.text, sentAt: env.ts, sentClock: env.clock, n: body.n })
    }
    case "chat.sealed":
    case "group.sealed":
      // The frame layer (wire/frame.ts) opens these before anything is decided; a sealed body here was not opened.
      return drop(`${body._tag} that was not decrypted`)
    case "chat.resend":
      // Not a change of state: the service answers it from the log (see interpretResend).
      return drop("resend request (answered from the log, not stored)")
    case "group.info":
      if (where.kind !== "groupInfo" || where.group !== body.info.name) return drop("group information on the wrong topic")
      return Result.succeed({ _tag: "group.info.received", from: env.from, info: body.info })
    case "group.join":
      if (!onMyControl) return drop("join request outside my control topic")
      return Result.succeed({ _tag: "group.join.received", group: body.group, from: env.from, attempt: body.attempt, requestId: env.id })
    case "group.accept":
      if (!onMyControl || body.to !== me) return drop("group acceptance not for me")
      if (body.info.name !== body.group) return drop("group acceptance for another group")
      return Result.succeed({ _tag: "group.accept.received", from: env.from, attempt: body.attempt, info: body.info })
    case "group.refuse":
      if (!onMyControl || body.to !== me) return drop("group refusal not for me")
      return Result.succeed({ _tag: "group.refuse.received", group: body.group, from: env.from, attempt: body.attempt, reason: body.reason })
    case "group.leave":
      if (!onMyControl) return drop("group leave outside my control topic")
      return Result.succeed({ _tag: "group.leave.received", group: body.group, from: env.from })
    case "group.message": {
      if (where.kind !== "groupTalk" || where.group !== body.group) return drop("group message on the wrong topic")
      const snapshot = state.groups.get(body.group)
      const view = groupView(state, body.group)
      if (snapshot === undefined || (view !== "member" && view !== "leading")) return drop(`group message for ${body.group}, which I am not in`)
      if (!(snapshot.context.info?.members.includes(env.from) ?? false)) return drop(`group message from non-member ${env.from}`)
      return Result.succeed({ _tag: "message.received", id: env.id, from: env.from, topic: topic as Topic, text: body.text, sentAt: env.ts, sentClock: env.clock, n: body.n })
    }
  }
}

/**
 * Information of a group I lead, "from me", with a version I never reached: someone wrote it in my
 * name (my own echoes carry versions I already hold). The group machine answers it by publishing
 * the true information above it, so every member takes mine again.
 */
const forgedInMyName = (state: ChatState, info: GroupInfo): boolean => {
  const held = state.groups.get(info.name)?.context.info
  return groupView(state, info.name) === "leading" && held !== null && held !== undefined &&
    held.foundedBy === info.foundedBy && held.foundedClock === info.foundedClock && info.version > held.version
}

/** The bounds on what strangers can make me store (budgets.ts). */
export { MAX_GROUPS_PER_FOUNDER, MAX_LISTED_GROUPS, MAX_PENDING_INCOMING, MAX_PENDING_JOINS_TOTAL, MAX_PRESENCE_USERS } from "./budgets.ts"

/** Whether stepping `event` changes anything: unchanged control traffic is not logged. */
const changesSomething = (state: ChatState, event: DomainEvent, stepped: { readonly state: ChatState; readonly actions: ReadonlyArray<StepAction> }): boolean => {
  if (event._tag === "message.received") return true
  const { state: after, actions } = stepped
  if (actions.length > 0) return true
  if (after.requests !== state.requests || after.acceptances !== state.acceptances) return true
  // What is absent on either side counts as the machine's initial snapshot: an event about something
  // I do not know that leaves it unknown changes nothing.
  const same = (a: unknown, b: unknown, persist: (s: never) => unknown) =>
    a === b || JSON.stringify(persist(a as never)) === JSON.stringify(persist(b as never))
  switch (event._tag) {
    case "presence.observed":
      return !same(presenceOf(state, event.user), presenceOf(after, event.user), (s) => presenceMachine.getPersistedSnapshot(s))
    case "conversation.stance.received":
      return !same(conversationOf(state, event.peer), conversationOf(after, event.peer), (s) => conversationMachine.getPersistedSnapshot(s))
    default: {
      const group = groupNameOf(event)
      if (group === null) return true
      return !same(groupOf(state, group), groupOf(after, group), (s) => groupMachine.getPersistedSnapshot(s))
    }
  }
}

const groupNameOf = (event: DomainEvent): GroupName | null => {
  switch (event._tag) {
    case "group.info.received":
    case "group.accept.received":
      return event.info.name
    case "group.join.received":
    case "group.refuse.received":
    case "group.leave.received":
      return event.group
    default:
      return null
  }
}

/**
 * Incoming envelope → the entries to append (usually one), or a drop (including "changes nothing").
 * A chat message that arrives ahead of a gap in its sender's numbering is held; the one that fills
 * the gap is stored together with the held ones it releases, in the sender's order.
 */
export const decideIncoming = (state: ChatState, topic: string, env: Envelope, context: DecisionContext): Result.Result<ReadonlyArray<LogEntry>, Drop> => {
  const interpreted = interpretIncoming(state, topic, env)
  if (Result.isFailure(interpreted)) return Result.fail(interpreted.failure)
  // Numbers its sender cannot have sent would wedge a conversation or brick the log: never stored.
  const implausible = implausibleNumbers(state, env, interpreted.success, context.now)
  if (implausible !== null) return drop(implausible)
  const event = believableTime(interpreted.success, context.now)
  const over = overBudget(state, event)
  if (over !== null) return drop(over)
  const clock = Math.max(state.clock, env.clock) + 1
  if (event._tag !== "message.received") {
    // Stepped once: to see whether it changes anything, and for the messages it sends.
    const stepped = step(state, { seq: state.lastSeq + 1, at: context.now, clock, event })
    if (!changesSomething(state, event, stepped)) return routine(`${env.body._tag} changes nothing`)
    const entry = entryFromStep(state, event, clock, context, stepped)
    const beyond = beyondWireLimits([entry])
    return beyond === null ? Result.succeed([entry]) : drop(`the answer is not sent: ${beyond}`)
  }
  const order = state.inbound.get(inboundKey(event.topic, event.from))
  const shown = order?.shown ?? 0
  const held = order?.held ?? []
  // The first message ever seen from this sender here sets the baseline (a group joined late) —
  // except in a pair where nothing was received yet: there the sender's numbering starts at 1, and
  // a #3 that overtook #1 and #2 waits for them (found by the simulator).
  const summary = state.topics.get(event.topic)
  const freshPair = order === undefined && parseTopic(event.topic).kind === "talk" && (summary === undefined || summary.messages === summary.sent)
  const ahead = (order !== undefined || freshPair) && event.n > shown + 1
  if (ahead && held.length < MAX_HELD_PER_SENDER) {
    return Result.succeed([{ at: context.now, clock, event: { ...event, _tag: "message.held" }, out: [] }])
  }
  if (ahead) return Result.succeed(releaseEntries([...held, { ...event, _tag: "message.held" }], clock, context.now))
  // In order (or late): show it, then whatever it releases.
  const released: HeldMessage[] = []
  let next = Math.max(shown, event.n) + 1
  for (const h of held) {
    if (h.n < next) continue
    if (h.n !== next) break
    released.push(h)
    next += 1
  }
  return Result.succeed([{ at: context.now, clock, event, out: [] }, ...releaseEntries(released, clock + 1, context.now)])
}

/** Held messages → message.received entries, in the sender's order. */
const releaseEntries = (held: ReadonlyArray<HeldMessage>, firstClock: number, now: number): ReadonlyArray<LogEntry> =>
  [...held].sort((a, b) => a.n - b.n).map((h, i) => ({ at: now, clock: firstClock + i, event: { ...h, _tag: "message.received" as const }, out: [] }))

/** The numbers missing before the held messages of one sender, at most MAX_RESEND_NUMBERS. */
export const missingNumbers = (order: InboundOrder): ReadonlyArray<number> => {
  const held = new Set(order.held.map((h) => h.n))
  const last = order.held.reduce((max, h) => Math.max(max, h.n), order.shown)
  const missing: number[] = []
  for (let n = order.shown + 1; n < last && missing.length < MAX_RESEND_NUMBERS; n++) if (!held.has(n)) missing.push(n)
  return missing
}

/**
 * Gaps that waited `waitMs`: first ask the sender to publish the missing messages again (a broker
 * may have lost them); when that too waited `waitMs`, give up and show what was held, in order.
 */
export const decideGaps = (state: ChatState, now: number, waitMs: number, context: DecisionContext): ReadonlyArray<LogEntry> => {
  const entries: LogEntry[] = []
  // Only the orders that hold something: the index keeps them, so the sweep does not scan every sender.
  for (const key of state.index.holding.keys()) {
    const order = state.inbound.get(key)
    if (order === undefined || order.held.length === 0) continue
    const clock = state.clock + 1 + entries.length
    const first = order.held[0]!
    const missing = missingNumbers(order)
    if (order.resendAskedAt === null && now - order.heldSince >= waitMs && missing.length > 0) {
      const body: Body = { _tag: "chat.resend", topic: first.topic, missing }
      entries.push({
        at: now,
        clock,
        event: { _tag: "message.resend.asked", topic: first.topic, from: first.from, missing },
        out: [{ topic: topics.control(first.from), retain: false, envelope: envelope(state, clock, context, body) }],
      })
    } else if (order.resendAskedAt !== null ? now - order.resendAskedAt >= waitMs : now - order.heldSince >= waitMs) {
      entries.push(...releaseEntries(order.held, clock, now))
    }
  }
  return entries
}

/**
 * A resend request on my control topic → the topic and the numbers to publish again, when the asker
 * may read that topic (my pair's topic, or a group we are both in).
 */
export const interpretResend = (state: ChatState, topic: string, env: Envelope): Result.Result<{ readonly topic: Topic; readonly missing: ReadonlyArray<number> }, Drop> => {
  const me = requireMe(state)
  if (env.body._tag !== "chat.resend") return drop("not a resend request")
  const where = parseTopic(topic)
  if (where.kind !== "control" || where.user !== me) return drop("resend request outside my control topic")
  const asked = parseTopic(env.body.topic)
  const allowed =
    (asked.kind === "talk" && asked.users.includes(me) && asked.users.includes(env.from)) ||
    (asked.kind === "groupTalk" && (state.groups.get(asked.group)?.context.info?.members.includes(env.from) ?? false))
  if (!allowed) return drop(`resend request for ${env.body.topic.slice(0, 60)} from ${env.from}, who does not read it`)
  return Result.succeed({ topic: env.body.topic, missing: env.body.missing })
}

/** My sent messages numbered `missing` on `topic`, found in log records (oldest first): what to publish again. */
export const resendable = (records: Iterable<LogRecord>, topic: Topic, missing: ReadonlySet<number>): ReadonlyArray<Outgoing> => {
  const found: Outgoing[] = []
  for (const record of records) {
    const event = record.event
    if (event._tag !== "message.sent" || event.topic !== topic || !missing.has(event.n)) continue
    const out = record.out.find((o) => o.envelope.id === event.id)
    if (out !== undefined) found.push(out)
  }
  return found
}
