/**
 * The popups the menu, the F-keys and the list commands open: the menu, users and groups, requests,
 * acceptances, search results and help. Each is built from the snapshot shown now; choosing an
 * entry runs a command through the controller.
 */
import type { RequestEntry } from "../../domain/chat/chat-state.ts"
import { MAX_TEXT_CHARS } from "../../domain/wire/messages.ts"
import type { ChatMessage, GroupListing, UserListing } from "./chat-port.ts"
import { COMMANDS, parseInput, type SlashCommand } from "./commands.ts"
import { keyHelpLines, MENU_ITEMS, type MenuItem } from "./keymap.ts"
import { ListPopup, PromptPopup, type ListItem, type Suggestion } from "./popups.ts"
import { MAX_LINE_CHARS, MAX_MESSAGE_PARTS } from "./split-message.ts"
import { seg } from "./styled.ts"
import { momentLabel } from "./timeline.ts"
import type { TuiHost } from "./tui-host.ts"
import { conversationWord, membershipWord } from "./views.ts"
import { counted } from "./plural.ts"

export const heading = (text: string): ListItem => ({ segments: [seg(text, { fg: "grey", bold: true })] })

export class PopupScreens {
  constructor(
    private readonly host: TuiHost,
    private readonly run: (command: SlashCommand) => void,
    private readonly askRequest: (request: RequestEntry) => void,
  ) {}

  showMenu(): void {
    const items: ListItem[] = MENU_ITEMS.map((entry, index) => ({
      segments: [seg(`${index + 1}  `, { fg: "yellow", bold: true }), seg(entry.title), seg(`  ${entry.key}`, { fg: "grey" })],
      hotkey: String(index + 1),
      run: () => this.runMenuItem(entry.item),
    }))
    items.push({ segments: [seg("9  ", { fg: "yellow", bold: true }), seg("Quit"), seg("  Ctrl-Q", { fg: "grey" })], hotkey: "9", run: () => this.host.quit() })
    this.host.pushPopup(new ListPopup("Menu", items, "1-9 or ↑↓ Enter · Esc close"))
  }

  runMenuItem(item: MenuItem): void {
    const { host } = this
    switch (item) {
      case "users":
        return this.showUsers()
      case "createGroup":
        return host.pushPopup(new PromptPopup("Create a group", "name:", [], (name) => this.run(this.parsedOr(`/group create ${name}`)), 40))
      case "groups":
        return this.showGroups()
      case "joinGroup": {
        const joinable = host.snapshot.groups.filter((g) => g.me === "listed")
        const suggestions: Suggestion[] = joinable.map((g) => ({ value: g.name, segments: [seg(`#${g.name}`, { bold: true }), seg(`  leader ${g.leader} · ${counted(g.members.length, "member")}`, { fg: "grey" })] }))
        return host.pushPopup(new PromptPopup("Join a group", "group:", suggestions, (name) => this.run(this.parsedOr(`/join ${name}`)), 40))
      }
      case "talk": {
        const candidates = [...host.snapshot.users]
          .filter((u) => u.conversation !== "active")
          .sort((a, b) => Number(b.status === "online") - Number(a.status === "online") || a.user.localeCompare(b.user))
        const suggestions: Suggestion[] = candidates.map((u) => ({ value: u.user, segments: [seg(u.status === "online" ? "● " : "○ ", { fg: u.status === "online" ? "green" : "grey" }), seg(u.user), seg(`  ${u.status}`, { fg: "grey" })] }))
        return host.pushPopup(new PromptPopup("Start a one-to-one conversation", "user id:", suggestions, (user) => this.run(this.parsedOr(`/talk ${user}`)), 40))
      }
      case "requests":
        return this.showRequests()
      case "acceptances":
        return this.showAcceptances()
      case "help":
        return this.showHelp(null)
    }
  }

  /** A command built from a popup's answer; a bad answer becomes a help note instead. */
  private parsedOr(line: string): SlashCommand {
    const parsed = parseInput(line)
    if (parsed.ok) return parsed.command
    this.host.note(this.host.activeKey, parsed.error, "error")
    return { _tag: "help", topic: line.split(/\s+/)[0]?.slice(1) ?? null }
  }

  private userItem(user: UserListing): ListItem {
    const word = conversationWord(user.conversation)
    return {
      segments: [
        seg(user.status === "online" ? "● " : user.status === "offline" ? "○ " : "? ", { fg: user.status === "online" ? "green" : "grey" }),
        seg(user.user, { bold: true }),
        seg(`  ${user.status}`, { fg: user.status === "online" ? "green" : "grey" }),
        seg(word === null ? "  · conversation open" : `  · ${word}`, { fg: "grey" }),
      ],
      run: () => {
        if (user.conversation === "idle" || user.conversation === "closed") this.run({ _tag: "talk", user: user.user })
        else this.host.open({ kind: "peer", user: user.user })
      },
    }
  }

  private groupItem(group: GroupListing): ListItem {
    const word = membershipWord(group.me)
    const others = group.members.filter((m) => m !== group.leader)
    return {
      segments: [
        seg(`#${group.name}`, { bold: true }),
        seg(`  leader ${group.leader}`),
        seg(`  members: ${others.length === 0 ? "(none besides the leader)" : others.join(", ")}`, { fg: "grey" }),
        seg(word === null ? "" : `  · you: ${word}`, { fg: "yellow" }),
      ],
      run: () => {
        if (group.me === "listed") this.run({ _tag: "join", group: group.name })
        else this.host.open({ kind: "group", group: group.name })
      },
    }
  }

  showUsers(): void {
    const { snapshot, me } = this.host
    const users = [...snapshot.users].sort((a, b) => Number(b.status === "online") - Number(a.status === "online") || a.user.localeCompare(b.user))
    const online = users.filter((u) => u.status === "online").length
    const items: ListItem[] = [heading(`Users — ${online} online, ${users.length - online} not (you are ${me})`), ...users.map((u) => this.userItem(u))]
    if (users.length === 0) items.push({ segments: [seg("  nobody else seen yet", { fg: "grey" })] })
    items.push(heading(""), heading(`Groups — ${snapshot.groups.length}`), ...snapshot.groups.map((g) => this.groupItem(g)))
    this.host.pushPopup(new ListPopup("Users and groups", items, "Enter: talk / open / join · Esc close"))
  }

  showGroups(): void {
    const items = this.host.snapshot.groups.map((g) => this.groupItem(g))
    this.host.pushPopup(new ListPopup(`Groups (${items.length}) — name, leader, members`, items, "Enter: open or ask to join · Esc close"))
  }

  showRequests(): void {
    const requests = [...this.host.snapshot.requests].reverse().sort((a, b) => Number(b.status === "pending") - Number(a.status === "pending"))
    const items: ListItem[] = requests.map((request) => ({
      segments: [
        // The column fits the longest status ("withdrawn") and a blank after it.
        seg(request.status === "pending" ? "● pending   " : `  ${request.status.padEnd(10)}`, { fg: request.status === "pending" ? "yellow" : "grey", bold: request.status === "pending" }),
        seg(request.kind === "chat" ? "conversation " : `join #${request.group ?? "?"} `),
        seg(`from ${request.from}`, { bold: true }),
        seg(`  ${momentLabel(request.at)}`, { fg: "grey" }),
      ],
      ...(request.status === "pending" ? { run: () => this.askRequest(request) } : {}),
    }))
    this.host.pushPopup(new ListPopup(`Requests received (${items.length})`, items, "Enter on a pending one: answer · Esc close"))
  }

  /** /search: the matches of buffer `key`, newest first; Enter jumps to one. */
  showSearch(key: string, query: string, matches: ReadonlyArray<ChatMessage>, scope: string): void {
    const items: ListItem[] = matches.map((message) => ({
      segments: [
        seg(`${momentLabel(message.at)}  `, { fg: "grey" }),
        seg(`<${message.from}> `, { fg: message.mine ? "green" : "cyan" }),
        seg(message.text.replace(/\s+/g, " ").slice(0, 300)),
      ],
      run: () => void this.host.jumpTo(key, message.seq),
    }))
    if (items.length === 0) items.push(heading(`no message contains "${query}" (searched ${scope})`))
    this.host.pushPopup(new ListPopup(`Search "${query.slice(0, 40)}": ${matches.length} found in ${scope}`, items, "↑↓ select · Enter: go to the message · Esc close"))
  }

  showAcceptances(): void {
    const items: ListItem[] = [...this.host.snapshot.acceptances].reverse().map((entry) => ({
      segments: [
        seg(entry.kind === "chat" ? `conversation with ${entry.peer}` : `#${entry.group ?? "?"} ${entry.by === "me" ? `← ${entry.peer}` : `by ${entry.peer}`}`, { bold: true }),
        seg(`  topic ${entry.topic}`, { fg: "cyan" }),
        seg(`  accepted by ${entry.by === "me" ? "you" : entry.peer}`, { fg: "grey" }),
        seg(`  ${momentLabel(entry.at)}`, { fg: "grey" }),
      ],
      run: () => this.host.open(entry.kind === "chat" || entry.group === null ? { kind: "peer", user: entry.peer } : { kind: "group", group: entry.group }),
    }))
    this.host.pushPopup(new ListPopup(`Acceptances (${items.length}) — with the topic each opened`, items, "Enter: open · Esc close"))
  }

  showHelp(topic: string | null): void {
    const commands = topic === null ? COMMANDS : COMMANDS.filter((c) => c.name === topic || c.aliases.includes(topic))
    const items: ListItem[] = [heading(`Commands (your id: ${this.host.me}; ids may be typed as digits: /talk 12345)`)]
    for (const command of commands) items.push({ segments: [seg(command.usage.padEnd(52), { fg: "cyan" }), seg(command.summary)] })
    if (topic === null) {
      items.push(heading(""), heading("Keys"))
      for (const key of keyHelpLines()) items.push({ segments: [seg(key.label.padEnd(22), { fg: "yellow" }), seg(key.help)] })
      items.push(heading(""), heading(`Long lines: past ${MAX_TEXT_CHARS} characters a line is sent as up to ${MAX_MESSAGE_PARTS} numbered messages (¹/₃ ²/₃ ³/₃),`))
      items.push(heading(`  split between words; a line (or a paste) holds at most ${MAX_LINE_CHARS} characters.`))
      items.push(heading(""), heading("Drafts: each conversation keeps its unsent line. A / typed as the first key over a draft from an earlier visit"))
      items.push(heading("  (after switching back or restarting) starts a command: the draft is set aside and comes back after Enter."))
      items.push(heading(""), heading("My messages end with ○ until the broker has acknowledged them (typed while it is down, say), then ✓."))
      items.push(heading(""), heading("Side list: ● online ○ offline · … waiting · ★ you lead · × closed · N unread · ? request"))
      items.push(heading("Mouse: the wheel scrolls (and pages older messages in), a click in the side list opens; Shift+drag selects text"))
    }
    this.host.pushPopup(new ListPopup(topic === null ? "Help" : `Help: /${topic}`, items, "↑↓ PgUp PgDn scroll · Esc close"))
  }
}
