/**
 * Slash commands: what the input line means. Pure parsing; the controller (chat-tui.ts) runs them.
 * Arguments are checked here against the same patterns the domain uses, so a typo gets a usage
 * line at once instead of a round trip; the service checks again (it trusts no caller).
 */
import { GROUP_NAME_PATTERN, USER_ID_PATTERN } from "../../domain/ids.ts"

/** Where a command points: a one-to-one conversation or a group. */
export type BufferTarget = { readonly kind: "peer"; readonly user: string } | { readonly kind: "group"; readonly group: string }

/** Which request /accept and /refuse answer; absent = the one of the current buffer, else the oldest. */
export type RequestTarget =
  | { readonly kind: "chat"; readonly user: string }
  | { readonly kind: "group"; readonly group: string; readonly user: string | null }

export type SlashCommand =
  | { readonly _tag: "say"; readonly text: string }
  | { readonly _tag: "help"; readonly topic: string | null }
  | { readonly _tag: "menu" }
  | { readonly _tag: "users" }
  | { readonly _tag: "groups" }
  | { readonly _tag: "groupCreate"; readonly group: string }
  | { readonly _tag: "join"; readonly group: string }
  | { readonly _tag: "talk"; readonly user: string }
  | { readonly _tag: "accept"; readonly target: RequestTarget | null }
  | { readonly _tag: "refuse"; readonly target: RequestTarget | null; readonly reason: string | null }
  | { readonly _tag: "leave"; readonly target: BufferTarget | null }
  | { readonly _tag: "close"; readonly target: BufferTarget | null }
  | { readonly _tag: "requests" }
  | { readonly _tag: "acceptances" }
  | { readonly _tag: "search"; readonly query: string }
  | { readonly _tag: "open"; readonly target: BufferTarget | "status" }
  | { readonly _tag: "whois"; readonly user: string | null }
  | { readonly _tag: "trust"; readonly user: string }
  /** on: true/false sets it; null shows it. */
  | { readonly _tag: "bell"; readonly on: boolean | null }
  | { readonly _tag: "quit" }

export type ParsedInput =
  | { readonly ok: true; readonly command: SlashCommand }
  | { readonly ok: false; readonly error: string }

export interface CommandHelp {
  readonly name: string
  readonly usage: string
  readonly summary: string
  readonly aliases: ReadonlyArray<string>
}

/** One table drives /help, Tab completion and the parser's usage lines. */
export const COMMANDS: ReadonlyArray<CommandHelp> = [
  { name: "users", usage: "/users", summary: "list users (online / offline) and groups", aliases: ["list", "who"] },
  { name: "groups", usage: "/groups", summary: "list groups: name, leader, members", aliases: [] },
  { name: "group", usage: "/group create NAME", summary: "create a group; you are its leader", aliases: [] },
  { name: "join", usage: "/join NAME", summary: "ask a group's leader to let you in", aliases: [] },
  { name: "talk", usage: "/talk user-NNNNN", summary: "ask a user for a one-to-one conversation", aliases: ["query", "chat"] },
  { name: "accept", usage: "/accept [user-NNNNN | #group user-NNNNN]", summary: "accept a request (default: this buffer's, else the oldest)", aliases: ["yes"] },
  { name: "refuse", usage: "/refuse [user-NNNNN | #group user-NNNNN] [reason]", summary: "refuse a request", aliases: ["no", "deny"] },
  { name: "leave", usage: "/leave [user-NNNNN | #group]", summary: "leave this (or the named) conversation or group", aliases: ["part"] },
  { name: "close", usage: "/close [user-NNNNN | #group]", summary: "close this (or the named) buffer: leave, withdraw or refuse first; it leaves the side list", aliases: ["wc"] },
  { name: "requests", usage: "/requests", summary: "requests received, pending first", aliases: [] },
  { name: "acceptances", usage: "/acceptances", summary: "accepted requests and the topic each opened", aliases: [] },
  { name: "search", usage: "/search TEXT", summary: "find TEXT in this conversation's history (newest first); ↑↓ Enter on a hit goes to it, highlighted", aliases: ["find", "grep"] },
  { name: "open", usage: "/open user-NNNNN | #group | status", summary: "switch to a conversation, a group or the status buffer", aliases: ["go", "switch"] },
  { name: "whois", usage: "/whois [user-NNNNN]", summary: "a user's key fingerprint and your safety number (default: this conversation's peer)", aliases: ["keys"] },
  { name: "trust", usage: "/trust user-NNNNN", summary: "accept a user's changed keys (compare the safety number first)", aliases: [] },
  { name: "bell", usage: "/bell [on | off]", summary: "ring the terminal bell when a message or request arrives in another buffer (saved; at most every 5 s)", aliases: [] },
  { name: "menu", usage: "/menu", summary: "the menu (also Ctrl-O; F1..F8 open its items directly)", aliases: [] },
  { name: "help", usage: "/help [command]", summary: "commands and keys", aliases: ["?"] },
  { name: "quit", usage: "/quit", summary: "announce offline and exit (also Ctrl-Q, Ctrl-C)", aliases: ["exit", "q"] },
]

const byName = new Map<string, CommandHelp>()
for (const command of COMMANDS) {
  byName.set(command.name, command)
  for (const alias of command.aliases) byName.set(alias, command)
}

export const findCommand = (name: string): CommandHelp | undefined => byName.get(name.toLowerCase())

/** `12345`, `user-12345` and `@user-12345` (as the side list shows it) all name user-12345: ids are long to type. */
export const normaliseUser = (word: string): string | null => {
  const bare = word.startsWith("@") ? word.slice(1) : word
  const candidate = /^[0-9]{1,12}$/.test(bare) ? `user-${bare}` : bare
  return USER_ID_PATTERN.test(candidate) ? candidate : null
}

/** `#team` and `team` both name the group team. */
export const normaliseGroup = (word: string): string | null => {
  const candidate = word.startsWith("#") ? word.slice(1) : word
  return GROUP_NAME_PATTERN.test(candidate) ? candidate : null
}

const looksLikeGroup = (word: string): boolean => word.startsWith("#")

const usage = (name: string, problem?: string): ParsedInput => {
  const help = byName.get(name)
  const line = help === undefined ? `/${name}` : help.usage
  return { ok: false, error: problem === undefined ? `usage: ${line}` : `${problem} — usage: ${line}` }
}

const ok = (command: SlashCommand): ParsedInput => ({ ok: true, command })

/**
 * `#group [user]`, `group user`, or `user`; what follows is the rest (a reason). A bare group name
 * without a user counts only when `bareGroupAlone` (for /refuse, `/refuse not today` is a reason).
 */
const parseRequestTarget = (
  words: ReadonlyArray<string>,
  bareGroupAlone: boolean,
): { readonly target: RequestTarget | null; readonly rest: ReadonlyArray<string> } | string => {
  const [first, second] = words
  if (first === undefined) return { target: null, rest: [] }
  const secondUser = second === undefined ? null : normaliseUser(second)
  const groupForm = (group: string): { readonly target: RequestTarget; readonly rest: ReadonlyArray<string> } =>
    secondUser === null
      ? { target: { kind: "group", group, user: null }, rest: words.slice(1) }
      : { target: { kind: "group", group, user: secondUser }, rest: words.slice(2) }
  if (looksLikeGroup(first)) {
    const group = normaliseGroup(first)
    return group === null ? `not a group name: ${first.slice(0, 40)}` : groupForm(group)
  }
  const user = normaliseUser(first)
  if (user !== null) {
    // Two user ids: the first would have to be a group called "user-…"; guessing could answer the
    // wrong request, so ask for the explicit form.
    if (secondUser !== null) return "write the group as #name before the user"
    return { target: { kind: "chat", user }, rest: words.slice(1) }
  }
  const group = normaliseGroup(first)
  if (group !== null && (secondUser !== null || bareGroupAlone)) return groupForm(group)
  return `not a user id or #group: ${first.slice(0, 40)}`
}

const parseBufferTarget = (word: string): BufferTarget | null => {
  if (looksLikeGroup(word)) {
    const group = normaliseGroup(word)
    return group === null ? null : { kind: "group", group }
  }
  const user = normaliseUser(word)
  if (user !== null) return { kind: "peer", user }
  const group = normaliseGroup(word)
  return group === null ? null : { kind: "group", group }
}

/**
 * The input line as a command. Text not starting with "/" is a message; "//" sends a message that
 * starts with "/". Leading and trailing blanks of a command line are ignored.
 */
export const parseInput = (line: string): ParsedInput => {
  if (!line.startsWith("/")) return ok({ _tag: "say", text: line })
  if (line.startsWith("//")) return ok({ _tag: "say", text: line.slice(1) })
  const words = line.slice(1).trim().split(/\s+/).filter((word) => word.length > 0)
  const [rawName, ...args] = words
  if (rawName === undefined) return { ok: false, error: "an empty command: type /help for the list" }
  const command = findCommand(rawName)
  if (command === undefined) return { ok: false, error: `unknown command /${rawName.slice(0, 30)}: type /help for the list` }
  const name = command.name
  const arity = (max: number): boolean => args.length <= max

  switch (name) {
    case "help":
      return arity(1) ? ok({ _tag: "help", topic: args[0]?.replace(/^\//, "") ?? null }) : usage(name)
    case "menu":
    case "users":
    case "groups":
    case "requests":
    case "acceptances":
    case "quit":
      return arity(0) ? ok({ _tag: name }) : usage(name)
    case "group": {
      const [sub, groupWord, ...extra] = args
      if (sub === "list") return extra.length === 0 && groupWord === undefined ? ok({ _tag: "groups" }) : usage(name)
      if (sub === "join" && groupWord !== undefined && extra.length === 0) return parseInput(`/join ${groupWord}`)
      if (sub !== "create" || groupWord === undefined || extra.length > 0) return usage(name)
      const group = normaliseGroup(groupWord)
      return group === null ? usage(name, "a group name is 1-32 letters, digits, _ or -") : ok({ _tag: "groupCreate", group })
    }
    case "search": {
      const query = line.slice(1).trim().slice(rawName.length).trim()
      return query.length === 0 ? usage(name) : ok({ _tag: "search", query: query.slice(0, 200) })
    }
    case "join": {
      const [groupWord] = args
      if (groupWord === undefined || !arity(1)) return usage(name)
      const group = normaliseGroup(groupWord)
      return group === null ? usage(name, `not a group name: ${groupWord.slice(0, 40)}`) : ok({ _tag: "join", group })
    }
    case "talk": {
      const [userWord] = args
      if (userWord === undefined || !arity(1)) return usage(name)
      const user = normaliseUser(userWord)
      return user === null ? usage(name, `not a user id: ${userWord.slice(0, 40)}`) : ok({ _tag: "talk", user })
    }
    case "accept": {
      const parsed = parseRequestTarget(args, true)
      if (typeof parsed === "string") return usage(name, parsed)
      return parsed.rest.length === 0 ? ok({ _tag: "accept", target: parsed.target }) : usage(name)
    }
    case "refuse": {
      const parsed = parseRequestTarget(args, false)
      if (typeof parsed === "string") {
        const first = args[0] ?? ""
        if (looksLikeGroup(first) || normaliseUser(first) !== null) return usage(name, parsed)
        // `/refuse not today` refuses the default request with a reason.
        return ok({ _tag: "refuse", target: null, reason: args.join(" ") })
      }
      return ok({ _tag: "refuse", target: parsed.target, reason: parsed.rest.length === 0 ? null : parsed.rest.join(" ") })
    }
    case "leave":
    case "close": {
      const [word] = args
      if (word === undefined) return ok({ _tag: name, target: null })
      const target = arity(1) ? parseBufferTarget(word) : null
      return target === null ? usage(name) : ok({ _tag: name, target })
    }
    case "whois": {
      const [word] = args
      if (word === undefined) return ok({ _tag: "whois", user: null })
      const user = arity(1) ? normaliseUser(word) : null
      return user === null ? usage(name) : ok({ _tag: "whois", user })
    }
    case "trust": {
      const [word] = args
      const user = word !== undefined && arity(1) ? normaliseUser(word) : null
      return user === null ? usage(name) : ok({ _tag: "trust", user })
    }
    case "bell": {
      const [word] = args
      if (word === undefined) return ok({ _tag: "bell", on: null })
      const on = word.toLowerCase() === "on" ? true : word.toLowerCase() === "off" ? false : null
      return on === null || !arity(1) ? usage(name) : ok({ _tag: "bell", on })
    }
    case "open": {
      const [word] = args
      if (word === undefined || !arity(1)) return usage(name)
      if (word.toLowerCase() === "status") return ok({ _tag: "open", target: "status" })
      const target = parseBufferTarget(word)
      return target === null ? usage(name) : ok({ _tag: "open", target })
    }
    default:
      return usage(name)
  }
}

/** Completions for the word before the cursor: command names after "/", else the given candidates. */
export const completeWord = (word: string, atLineStart: boolean, candidates: ReadonlyArray<string>): ReadonlyArray<string> => {
  if (atLineStart && word.startsWith("/")) {
    const prefix = word.slice(1).toLowerCase()
    return COMMANDS.map((c) => c.name).filter((name) => name.startsWith(prefix)).map((name) => `/${name}`)
  }
  if (word.length === 0) return []
  // `@user-1…` as the side list writes a conversation: completed as a user id, the @ kept.
  if (word.startsWith("@") && word.length > 1) return completeWord(word.slice(1), false, candidates.filter((c) => c.startsWith("user-"))).map((c) => `@${c}`)
  const lower = word.toLowerCase()
  // Ids may be typed as their digits (normaliseUser): `325` completes to user-32563.
  const asUser = /^[0-9]{1,12}$/.test(word) ? `user-${word}` : null
  return candidates.filter((candidate) => {
    const c = candidate.toLowerCase()
    return c.startsWith(lower) || (asUser !== null && c.startsWith(asUser))
  })
}
