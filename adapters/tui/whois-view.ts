/** `/whois`: a user's keys as lines for a buffer. Pure, so it is tested without a screen. */
import type { NoteLevel } from "./chat-buffer.ts"
import type { WhoIs } from "./chat-port.ts"

export const describeWhoIs = (who: WhoIs, me: string): ReadonlyArray<{ readonly text: string; readonly level: NoteLevel }> => {
  if (who.user === me) {
    return [{ text: `your keys: fingerprint ${who.fingerprint ?? "?"} (your peers see the same in /whois ${me})`, level: "info" }]
  }
  const lines: Array<{ text: string; level: NoteLevel }> = []
  if (who.keys === null) {
    lines.push({ text: `${who.user}: no keys yet — nothing signed by them was received here`, level: "info" })
  } else {
    lines.push({ text: `${who.user}: fingerprint ${who.fingerprint}, pinned on first contact`, level: "info" })
    lines.push({ text: `safety number with ${who.user}: ${who.safetyNumber}`, level: "info" })
    lines.push({ text: "compare it with them in person or by voice: the same digits on both screens mean nobody sits between you", level: "info" })
  }
  if (who.changed !== null) {
    lines.push({ text: `WARNING: ${who.user} signed with OTHER keys (fingerprint ${who.changed.fingerprint}); those messages are refused`, level: "error" })
    lines.push({ text: `the safety number with the new keys would be ${who.changed.safetyNumber}: if ${who.user} confirms it, /trust ${who.user}`, level: "error" })
  }
  return lines
}
