/**
 * Which talk topics a batch of records changes the need for. After every batch the service
 * subscribes and unsubscribes the difference; computing the whole wanted set each time scanned
 * every conversation and group per batch, so only the conversations and groups the batch's records
 * name are looked at here (the whole set is computed once, at start).
 */
import { conversationView, groupView, type ChatState } from "../chat/chat-state.ts"
import type { DomainEvent, LogRecord } from "../events.ts"
import { topics, type GroupName, type Topic, type UserId } from "../ids.ts"

/** The conversation or group an event is about, if any. */
export const subjectOf = (event: DomainEvent): { readonly peer: UserId } | { readonly group: GroupName } | null => {
  switch (event._tag) {
    case "conversation.request.sent":
    case "conversation.accept.sent":
    case "conversation.refuse.sent":
    case "conversation.leave.sent":
    case "conversation.timed-out":
    case "conversation.stance.received":
      return { peer: event.peer }
    case "group.info.received":
    case "group.accept.received":
      return { group: event.info.name }
    case "group.created":
    case "group.join.sent":
    case "group.join.received":
    case "group.accept.sent":
    case "group.refuse.sent":
    case "group.refuse.received":
    case "group.leave.sent":
    case "group.leave.received":
      return { group: event.group }
    default:
      return null
  }
}

/** Topics to subscribe and to unsubscribe after `records`, given what is `subscribed` now. O(records). */
export const subscriptionChanges = (
  state: ChatState,
  me: UserId,
  records: ReadonlyArray<LogRecord>,
  subscribed: ReadonlySet<string>,
): { readonly add: Array<Topic>; readonly remove: Array<Topic> } => {
  const looked = new Set<string>()
  const add: Topic[] = []
  const remove: Topic[] = []
  for (const record of records) {
    const subject = subjectOf(record.event)
    if (subject === null) continue
    const topic = "peer" in subject ? topics.talk(me, subject.peer) : topics.groupTalk(subject.group)
    if (looked.has(topic)) continue
    looked.add(topic)
    const view = "peer" in subject ? conversationView(state, subject.peer) : groupView(state, subject.group)
    const wanted = view === "active" || view === "outgoing" || view === "member" || view === "leading"
    if (wanted && !subscribed.has(topic)) add.push(topic)
    if (!wanted && subscribed.has(topic)) remove.push(topic)
  }
  return { add, remove }
}
