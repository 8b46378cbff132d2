/**
 * Draws the whole screen from what the controller knows: side list, title, message pane, status
 * bar, input line and the top popup, then puts the terminal cursor where typing goes. The text of
 * each pane comes from the pure views (views.ts, timeline.ts).
 */
import type { ChatBuffer } from "./chat-buffer.ts"
import { escapeTags } from "./sanitize.ts"
import { seg, styledLine } from "./styled.ts"
import { buildTimeline } from "./timeline.ts"
import type { TuiHost } from "./tui-host.ts"
import { conversationWord, membershipWord, promptText, renderSidebar, renderStatusBar, renderTitle, type BufferSummary } from "./views.ts"

/** My newest messages checked for a change of delivery mark at each render. */
const PENDING_SCAN = 500

export interface FrameFacts {
  readonly brokerLabel: string
  readonly problems: number
  /** Another buffer was opened: the pane goes back to following the newest line. */
  readonly resetScroll: boolean
}

export class ScreenRenderer {
  /** For each side-list row, the buffer (or "users", "requests") a click there opens. */
  sidebarTargets: ReadonlyArray<string | null> = []
  /** Where the cursor goes after a render: the input line's column, or a popup's prompt. */
  private cursorColumn = 0
  private popupCursor: { readonly row: number; readonly column: number } | null = null
  /** Where each message starts among the lines the pane shows now. */
  private lineOfSeq: ReadonlyMap<number, number> = new Map()

  constructor(private readonly host: TuiHost) {}

  private bufferSummaries(): ReadonlyArray<BufferSummary> {
    const { host } = this
    return host.order.map((key, index) => {
      const buffer = host.buffer(key)
      const target = buffer?.target ?? null
      const user = target?.kind === "peer" ? host.userListing(target.user) : null
      const group = target?.kind === "group" ? host.groupListing(target.group) : null
      return {
        key,
        number: index + 1,
        label: key,
        unread: buffer === undefined ? 0 : host.unreadOf(buffer),
        requestPending: buffer === undefined ? false : host.requestsOfBuffer(buffer).length > 0,
        kind: target === null ? "status" : target.kind,
        presence: target?.kind === "peer" ? user?.status ?? "unknown" : null,
        conversation: target?.kind === "peer" ? user?.conversation ?? "idle" : null,
        membership: target?.kind === "group" ? group?.me ?? "absent" : null,
      }
    })
  }

  /** What the prompt says about the target when typing there will not (yet) reach anyone. */
  private targetState(buffer: ChatBuffer): string | null {
    const target = buffer.target
    if (target === null) return "commands only"
    if (target.kind === "peer") return conversationWord(this.host.userListing(target.user)?.conversation ?? "idle")
    const me = this.host.groupListing(target.group)?.me ?? "absent"
    return me === "leading" ? null : membershipWord(me)
  }

  /** Which of the buffer's newest messages of mine are pending, as a key (they are the newest: the scan stops early). */
  private pendingKey(buffer: ChatBuffer): string {
    const messages = buffer.messages
    let key = ""
    let mine = 0
    // Bounded: at most PENDING_SCAN of my messages, newest first (older ones were acknowledged long ago, or are shown as they were).
    for (let i = messages.length - 1; i >= 0 && mine < PENDING_SCAN; i--) {
      const message = messages[i]!
      if (!message.mine) continue
      mine += 1
      if (this.host.isPending(message.id)) key += `${message.seq},`
    }
    return key
  }

  draw(active: ChatBuffer, facts: FrameFacts): void {
    const { host } = this
    const { layout } = host
    const screen = layout.screen
    const width = screen.width as number
    const height = screen.height as number
    const sidebarWidth = layout.sidebarWidth()
    if (sidebarWidth > 0) {
      const rows = Math.max(0, height - 2)
      const view = renderSidebar(
        { buffers: this.bufferSummaries(), activeKey: host.activeKey, users: host.snapshot.users, groups: host.snapshot.groups, pendingRequests: host.pendingRequests().length },
        sidebarWidth - 1,
        rows,
      )
      this.sidebarTargets = view.targets
      const divider = "{grey-fg}│{/grey-fg}"
      const lines = Array.from({ length: rows }, (_, i) => `${view.lines[i] ?? " ".repeat(sidebarWidth - 1)}${divider}`)
      layout.sidebar.setContent(lines.join("\n"))
    }

    const target = active.target
    const paneWidth = width - sidebarWidth
    // Delivery marks are part of what is shown: a message turning ✓ redraws the pane.
    const isPending = (id: string) => host.isPending(id)
    const highlightSeq = host.highlight?.key === active.key ? host.highlight.seq : null
    layout.pane.show(`${active.key}:${active.version}:${this.pendingKey(active)}:${highlightSeq ?? ""}`, () => {
      const timeline = buildTimeline(active, host.me, { pending: isPending, highlightSeq })
      this.lineOfSeq = timeline.lineOfSeq
      return timeline.lines
    }, { resetScroll: facts.resetScroll })
    // A /search hit to jump to: once its lines are in the pane, the view goes there.
    const jump = host.takeJump(active.key)
    const line = jump === null ? undefined : this.lineOfSeq.get(jump)
    if (line !== undefined) layout.pane.revealLine(line)
    layout.title.setContent(
      renderTitle(
        {
          kind: target === null ? "status" : target.kind,
          label: active.key,
          me: host.me,
          user: target?.kind === "peer" ? host.userListing(target.user) : null,
          group: target?.kind === "group" ? host.groupListing(target.group) : null,
          topic: target === null ? null : host.topicOf(target),
          linesBelow: layout.pane.isFollowing ? 0 : layout.pane.rowsBelow,
        },
        paneWidth,
      ),
    )
    const pending = host.pendingRequests().length
    layout.status.setContent(
      renderStatusBar({ me: host.me, broker: facts.brokerLabel, connection: host.connection, target: active.key, pendingRequests: pending, problems: facts.problems, hint: host.hint }, width),
    )
    const prompt = promptText(active.key, this.targetState(active))
    const view = host.editor.view(Math.max(4, width - prompt.length - 1))
    layout.input.setContent(`{bold}${escapeTags(prompt)}{/bold}${escapeTags(view.text)}`)
    this.cursorColumn = prompt.length + view.cursorColumn
    this.drawPopup(width, height)
    screen.render()
  }

  private drawPopup(width: number, height: number): void {
    const popup = this.host.layout.popup
    const top = this.host.popups[this.host.popups.length - 1]
    if (top === undefined) {
      popup.hide()
      this.popupCursor = null
      return
    }
    const boxWidth = Math.max(20, Math.min(width - 4, 96))
    const innerWidth = boxWidth - 2
    const maxInner = Math.max(3, height - 6)
    const frame = top.frame(innerWidth, maxInner - 2)
    const bodyRows = Math.min(maxInner - 2, frame.lines.length)
    const boxHeight = bodyRows + 4
    popup.width = boxWidth
    popup.height = boxHeight
    popup.setLabel(` ${escapeTags(frame.title)} `)
    const body = [...frame.lines.slice(0, bodyRows), styledLine([], innerWidth), styledLine([seg(frame.footer, { fg: "grey" })], innerWidth)]
    popup.setContent(body.join("\n"))
    popup.show()
    popup.setFront()
    this.popupCursor = frame.cursor === null ? null : { row: (popup.atop as number) + 1 + frame.cursor.row, column: (popup.aleft as number) + 1 + frame.cursor.column }
  }

  /** The terminal cursor sits where typing goes: the input line, or a popup's prompt. */
  placeCursor(): void {
    const screen = this.host.layout.screen
    const program = screen.program
    const height = screen.height as number
    if (this.host.popups.length > 0 && this.popupCursor === null) {
      program.hideCursor()
      return
    }
    const position = this.popupCursor ?? { row: height - 1, column: this.cursorColumn }
    program.cup(position.row, Math.min(position.column, (screen.width as number) - 1))
    program.showCursor()
  }
}
