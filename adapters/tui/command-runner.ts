/**
 * The input line, sent: a message to the active conversation, or a slash command run against the
 * service and the popups. Parsing is commands.ts; this is what each command does.
 */
import { bufferKeyOf, STATUS_KEY } from "./chat-buffer.ts"
import { chatTargetOf } from "./chat-port.ts"
import { parseInput, type BufferTarget, type SlashCommand } from "./commands.ts"
import type { PopupScreens } from "./popup-screens.ts"
import { QuestionPopup } from "./popups.ts"
import type { RequestFlow } from "./request-flow.ts"
import { splitMessage } from "./split-message.ts"
import { seg } from "./styled.ts"
import type { TuiHost } from "./tui-host.ts"
import { describeWhoIs } from "./whois-view.ts"
import { counted } from "./plural.ts"

/** Matches shown by /search, newest first. */
const SEARCH_RESULTS = 200

export class CommandRunner {
  constructor(
    private readonly host: TuiHost,
    private readonly screens: PopupScreens,
    private readonly requests: RequestFlow,
  ) {}

  /** Enter: the active buffer's line is sent or run. */
  submit(): void {
    const { host } = this
    const line = host.editor.take()
    if (line.trim().length === 0) return
    // A sent line is no draft any more: a restart must not offer it again.
    host.scheduleSave()
    const parsed = parseInput(line)
    if (!parsed.ok) {
      host.note(host.activeKey, parsed.error, "error")
      host.editor.setText(line)
      return
    }
    // The buffer it was typed in: a command may switch to another before it returns.
    const key = host.activeKey
    void this.run(parsed.command, line)
    // A command typed over a draft (drafts.ts): the draft is back in its line.
    host.drafts.bringBack(key)
  }

  async run(command: SlashCommand, line = ""): Promise<void> {
    const { host, screens } = this
    switch (command._tag) {
      case "say":
        return this.say(command.text, line)
      case "help":
        return screens.showHelp(command.topic)
      case "menu":
        return screens.showMenu()
      case "users":
        return screens.showUsers()
      case "groups":
        return screens.showGroups()
      case "requests":
        return screens.showRequests()
      case "acceptances":
        return screens.showAcceptances()
      case "search":
        return this.search(command.query)
      case "quit":
        return host.quit()
      case "groupCreate":
        if (await host.perform({ _tag: "createGroup", group: command.group })) host.open({ kind: "group", group: command.group })
        return
      case "join":
        if (await host.perform({ _tag: "joinGroup", group: command.group })) host.open({ kind: "group", group: command.group })
        return
      case "talk":
        if (command.user === host.me) return host.note(host.activeKey, "that is your own id: talk to someone else", "error")
        // A typo would create a user and a day-long wait: an id nobody has seen is confirmed first.
        if (!host.snapshot.users.some((u) => u.user === command.user)) return this.confirmUnknownUser(command.user)
        return this.startTalk(command.user)
      case "accept":
      case "refuse": {
        const request = this.requests.findRequest(command.target)
        if (typeof request === "string") return host.note(host.activeKey, request, "error")
        return this.requests.answer(request, command._tag === "accept", command._tag === "refuse" ? command.reason : null)
      }
      case "leave": {
        const target = command.target ?? host.buffer(host.activeKey)?.target ?? null
        if (target === null) return host.note(host.activeKey, "the status buffer is not a conversation: /leave user-NNNNN or /leave #group", "error")
        if (target.kind === "peer") return void (await host.perform({ _tag: "leaveConversation", user: target.user }))
        const joining = host.groupListing(target.group)?.me === "joining"
        if (joining) host.withdrawnJoins.add(target.group)
        if (!(await host.perform({ _tag: "leaveGroup", group: target.group }))) host.withdrawnJoins.delete(target.group)
        return
      }
      case "close":
        return this.close(command.target ?? host.buffer(host.activeKey)?.target ?? null)
      case "open":
        if (command.target === "status") return host.activate(STATUS_KEY)
        return host.open(command.target)
      case "whois":
        return this.whois(command.user)
      case "bell": {
        if (command.on === null) return host.note(host.activeKey, `the bell is ${host.bellOn ? "on" : "off"}: /bell on or /bell off`, "info")
        const refused = host.setBell(command.on)
        return host.note(host.activeKey, refused ?? (command.on ? "the bell rings when a message or a request arrives in another buffer (at most every 5 s)" : "the bell is off"), refused === null ? "info" : "error")
      }
      case "trust":
        if (await host.perform({ _tag: "trustKeys", user: command.user })) host.note(host.activeKey, `${command.user}'s new keys are trusted: their messages are accepted again`, "event")
        return
    }
  }

  /**
   * /close: whatever the conversation or group is waiting for ends first — an active conversation
   * or a group is left, a request I sent is withdrawn, one I received is refused — then the buffer
   * goes, and a conversation stays out of the lists (after a restart too) until either side moves.
   */
  private async close(target: BufferTarget | null): Promise<void> {
    const { host } = this
    if (target === null) return host.note(host.activeKey, "the status buffer stays: /close user-NNNNN or /close #group", "error")
    const key = bufferKeyOf(target)
    if (target.kind === "group") {
      const me = host.groupListing(target.group)?.me ?? "absent"
      // Joining: the leave withdraws the request, and the leader is told (group.leave).
      if (me === "joining") host.withdrawnJoins.add(target.group)
      if ((me === "member" || me === "leading" || me === "joining") && !(await host.perform({ _tag: "leaveGroup", group: target.group }))) {
        host.withdrawnJoins.delete(target.group)
        return
      }
      return host.closeBuffer(key)
    }
    const user = target.user
    const conversation = host.userListing(user)?.conversation ?? "idle"
    const ended = conversation === "active" || conversation === "outgoing" ? await host.perform({ _tag: "leaveConversation", user })
      : conversation === "incoming" ? await host.perform({ _tag: "refuseConversation", user, reason: null })
      : true
    if (!ended) return
    if (conversation !== "idle" && !(await host.perform({ _tag: "closeConversation", user }))) return
    if (conversation === "outgoing") host.note(STATUS_KEY, `request to ${user} withdrawn and closed`, "info")
    host.closeBuffer(key)
  }

  private async startTalk(user: string): Promise<void> {
    if (await this.host.perform({ _tag: "startConversation", user })) this.host.open({ kind: "peer", user })
  }

  private confirmUnknownUser(user: string): void {
    const { host } = this
    const notAsked = () => host.note(host.activeKey, `${user} not asked`, "info")
    host.pushPopup(new QuestionPopup(
      "Unknown user",
      [
        [seg(user, { bold: true, fg: "cyan" }), seg(" has never been seen on this broker (no presence, no conversation).")],
        [seg("A typo? If not, the request waits for them up to a day.", { fg: "grey" })],
      ],
      { yes: () => void this.startTalk(user), no: notAsked, later: notAsked },
      host.now,
      0, // the user asked the question: no typing can be in flight to answer it by accident
      "[y] ask anyway · [n] or [Esc] no",
    ))
  }

  private async whois(named: string | null): Promise<void> {
    const { host } = this
    const target = host.buffer(host.activeKey)?.target ?? null
    const user = named ?? (target?.kind === "peer" ? target.user : null)
    if (user === null) return host.note(host.activeKey, "whose keys? /whois user-NNNNN", "error")
    const result = await host.port.whois(user)
    if ("error" in result) return host.note(host.activeKey, result.error, "error")
    for (const line of describeWhoIs(result, host.me)) host.note(host.activeKey, line.text, line.level)
  }

  /** /search: this conversation's messages containing the text, newest first, in a popup. */
  private async search(query: string): Promise<void> {
    const { host } = this
    const target = host.buffer(host.activeKey)?.target ?? null
    if (target === null) return host.note(host.activeKey, "open a conversation or a group first: /search looks in its history", "error")
    // The popup's Enter jumps to the hit in this buffer, even if another is shown by the time it opens.
    const key = host.activeKey
    const result = await host.port.search(chatTargetOf(target), query, SEARCH_RESULTS)
    if ("error" in result) return host.note(host.activeKey, result.error, "error")
    const scope = result.complete ? (result.searched === 1 ? "the one message" : `all ${result.searched} messages`) : `the newest ${counted(result.searched, "message")}`
    this.screens.showSearch(key, query, result.matches, scope)
  }

  private async say(text: string, line: string): Promise<void> {
    const { host } = this
    const buffer = host.buffer(host.activeKey)
    if (buffer?.target === null || buffer === undefined) {
      host.note(STATUS_KEY, "this is the status buffer: open a conversation (Ctrl-N, /open user-NNNNN) or start one (F5, /talk user-NNNNN)", "error")
      host.drafts.editorFor(buffer?.key ?? host.activeKey).setText(line)
      return
    }
    const split = splitMessage(text)
    if (!split.ok) {
      host.note(buffer.key, `not sent: ${split.error}`, "error")
      host.drafts.editorFor(buffer.key).setText(line)
      return
    }
    if (host.connection._tag !== "connected") host.hint = "offline: the message is stored and sent when the broker is back"
    // In order, one after the other: a part refused stops the rest, which goes back to the line.
    for (const [index, part] of split.parts.entries()) {
      const outcome = await host.port.perform({ _tag: "send", target: chatTargetOf(buffer.target), text: part })
      if (outcome.ok) continue
      const unsent = index === 0 ? line : split.bodies.slice(index).join("")
      const which = split.parts.length === 1 ? "" : ` (part ${index + 1} of ${split.parts.length} and what follows)`
      host.note(buffer.key, `not sent${which}: ${outcome.error}`, "error")
      // Give the text back to its own buffer (the typist may have moved on) rather than lose it,
      // unless something new was typed there meanwhile.
      const editor = host.drafts.editorFor(buffer.key)
      if (editor.length === 0) editor.setText(index > 0 && unsent.startsWith("/") ? `/${unsent}` : unsent)
      break
    }
    host.scheduleRefresh()
  }
}
