/**
 * Incoming requests on screen: each new one pops up as a yes/no question (one at a time, after the
 * popups open now), a burst is summarised in one popup instead (request-alerts.ts), a request
 * answered elsewhere takes its popup with it, and /accept, /refuse find the request they mean.
 */
import type { RequestEntry } from "../../domain/chat/chat-state.ts"
import { STATUS_KEY } from "./chat-buffer.ts"
import type { ChatAction } from "./chat-port.ts"
import type { RequestTarget } from "./commands.ts"
import { QuestionPopup, type Popup } from "./popups.ts"
import { RequestBurst, RequestSummaryPopup } from "./request-alerts.ts"
import { seg } from "./styled.ts"
import { timeOfDay } from "./timeline.ts"
import type { TuiHost } from "./tui-host.ts"

/** Open popups at once (menu → prompt → …); requests wait in their queue beyond this. */
export const MAX_OPEN_POPUPS = 4
/** Requests remembered as already shown (they are also bounded by the domain's request history). */
const MAX_ASKED_REQUESTS = 2_000
/** A request popup ignores answers this long after it appears: keys already on their way are typing. */
const QUESTION_ARM_MS = 500

type RequestKey = string
const requestKey = (request: RequestEntry): RequestKey => request.requestId

export class RequestFlow {
  private requestPopup: RequestKey | null = null
  private readonly askedRequests = new Set<RequestKey>()
  /** Requests that come close together are summarised (request-alerts.ts), not asked one by one. */
  private readonly requestBurst = new RequestBurst()
  private requestSummary: RequestSummaryPopup | null = null

  constructor(
    private readonly host: TuiHost,
    private readonly showRequests: () => void,
    /** Pop incoming requests up as questions (false in the replay viewer, which cannot answer). */
    private readonly ask: boolean,
  ) {}

  /** A popup was closed or pushed out: forget it if it was one of ours. */
  forget(popup: Popup): void {
    if (popup instanceof QuestionPopup) this.requestPopup = null
    if (popup === this.requestSummary) this.requestSummary = null
  }

  /**
   * Requests not yet asked, when they come as part of a burst: one summary popup counts them (and
   * the request popup open at the time), instead of a popup each. They stay pending in F6.
   */
  summariseBurst(): void {
    const { host } = this
    const fresh = host.pendingRequests().filter((r) => !this.askedRequests.has(requestKey(r)))
    if (fresh.length === 0) return
    const burst = this.requestBurst.arrive(fresh.map(requestKey), host.now())
    if (!burst && this.requestSummary === null) return
    if (this.requestSummary === null) {
      const summary = new RequestSummaryPopup(() => this.showRequests(), host.now, QUESTION_ARM_MS)
      this.requestSummary = summary
      // The question open now is part of the burst: the summary takes its place.
      const top = host.popups[host.popups.length - 1]
      if (top instanceof QuestionPopup && this.requestPopup !== null) {
        host.popups.pop()
        this.requestPopup = null
        summary.count += 1
      }
      host.pushPopup(summary)
      host.note(STATUS_KEY, "requests are arriving close together: they are counted in one popup, not asked one by one (F6 lists them)", "event")
      setTimeout(() => host.requestRender(), Math.max(0, summary.armsAt - host.now()) + 10)
    }
    for (const request of fresh) {
      this.rememberAsked(requestKey(request))
      host.quiet.add(request.kind === "chat" ? `@${request.from}` : `#${request.group ?? "?"} ${request.from}`)
      this.requestSummary.count += 1
    }
    if (host.quiet.size > MAX_ASKED_REQUESTS) host.quiet.clear()
    host.requestRender()
  }

  offerNextRequest(): void {
    if (this.host.popups.length > 0 || !this.ask) return
    const next = this.host.pendingRequests().find((r) => !this.askedRequests.has(requestKey(r)))
    if (next === undefined) return
    this.askRequest(next)
  }

  askRequest(request: RequestEntry): void {
    const { host } = this
    if (host.popups.length >= MAX_OPEN_POPUPS) return
    this.rememberAsked(requestKey(request))
    const group = request.group
    const question = request.kind === "chat"
      ? [[seg(request.from, { bold: true, fg: "cyan" }), seg(" wants a one-to-one conversation with you.")]]
      : [[seg(request.from, { bold: true, fg: "cyan" }), seg(" asks to join "), seg(`#${group ?? "?"}`, { bold: true }), seg(" (you lead it).")]]
    question.push([seg(`received ${timeOfDay(request.at)}`, { fg: "grey" })])
    this.requestPopup = requestKey(request)
    const popup = new QuestionPopup(
      request.kind === "chat" ? "Conversation request" : "Join request",
      question,
      {
        yes: () => void this.answer(request, true, null),
        no: () => void this.answer(request, false, null),
        later: () => host.note(STATUS_KEY, `request from ${request.from} left pending: F6 or /requests to answer it`, "info"),
      },
      host.now,
      QUESTION_ARM_MS,
    )
    host.pushPopup(popup)
    // Redraw when its keys start to count, so the footer says so.
    setTimeout(() => host.requestRender(), Math.max(0, popup.armsAt - host.now()) + 10)
  }

  private rememberAsked(key: RequestKey): void {
    this.askedRequests.add(key)
    if (this.askedRequests.size > MAX_ASKED_REQUESTS) {
      const oldest = this.askedRequests.values().next().value
      if (oldest !== undefined) this.askedRequests.delete(oldest)
    }
  }

  /** A request answered elsewhere (a command, a withdrawal) takes its popup with it. */
  closeAnsweredRequestPopup(): void {
    if (this.requestPopup === null) return
    const stillPending = this.host.pendingRequests().some((r) => requestKey(r) === this.requestPopup)
    if (stillPending) return
    const top = this.host.popups[this.host.popups.length - 1]
    if (top instanceof QuestionPopup) this.host.popups.pop()
    this.requestPopup = null
  }

  async answer(request: RequestEntry, accept: boolean, reason: string | null): Promise<void> {
    const { host } = this
    const action: ChatAction = request.kind === "chat"
      ? accept ? { _tag: "acceptConversation", user: request.from } : { _tag: "refuseConversation", user: request.from, reason }
      : accept ? { _tag: "acceptJoin", group: request.group ?? "", user: request.from } : { _tag: "refuseJoin", group: request.group ?? "", user: request.from, reason }
    const done = await host.perform(action)
    if (!done) return
    if (request.kind === "chat" && accept) host.open({ kind: "peer", user: request.from })
    if (request.kind === "group" && request.group !== null) {
      host.noteFor({ kind: "group", group: request.group }, `${accept ? "accepted" : "refused"} ${request.from}'s request to join #${request.group}`, "info")
      if (accept) host.open({ kind: "group", group: request.group })
    }
  }

  /** The request `/accept` or `/refuse` means: the named one, else this buffer's, else the oldest pending. */
  findRequest(target: RequestTarget | null): RequestEntry | string {
    const { host } = this
    const pending = host.pendingRequests()
    if (target === null) {
      const active = host.buffer(host.activeKey)
      const here = active === undefined ? [] : host.requestsOfBuffer(active)
      return here[0] ?? pending[0] ?? "no request is waiting"
    }
    const found = target.kind === "chat"
      ? pending.find((r) => r.kind === "chat" && r.from === target.user)
      : pending.find((r) => r.kind === "group" && r.group === target.group && (target.user === null || r.from === target.user))
    if (found !== undefined) return found
    return target.kind === "chat" ? `no pending request from ${target.user}` : `no pending request to join #${target.group}${target.user === null ? "" : ` from ${target.user}`}`
  }
}
