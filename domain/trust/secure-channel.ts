/**
 * Signed and encrypted frames: what actually travels on the wire.
 *
 *   {"v":2,"k":"<ed25519>.<x25519>","m":"<envelope JSON>","s":"<Ed25519 signature>"}
 *
 * The signature covers the topic, the keys and the envelope's exact bytes, so a frame cannot be
 * moved to another topic or re-attributed. The sender is the owner of `k` — pinned on first contact
 * (trust on first use) — never the envelope's `from` alone. Chat text is sealed end to end: one-to-one
 * under a key both sides derive from X25519 (HKDF, the topic as context), group text under the
 * group's key of one version of its information, which the leader wraps for each member inside the
 * signed information. AES-256-GCM with a synthetic nonce (HMAC of the associated data and the text),
 * so sealing is deterministic: a resend is the same bytes, and a seeded simulation replays exactly.
 * docs/protocol.md §2 and docs/security.md describe it for people.
 */
import { Result, Schema } from "effect"
import type { ChatState } from "../chat/chat-state.ts"
import type { Drop } from "../chat/decide.ts"
import type { Outgoing } from "../events.ts"
import { parseTopic, type GroupName, type UserId } from "../ids.ts"
import type { CryptoPrimitives } from "../ports/crypto.port.ts"
import { decodeEnvelopeText, encodeEnvelope, MAX_FRAME_BYTES, MAX_TEXT_CHARS, type Body, type Envelope, type GroupInfo } from "../wire/messages.ts"
import { concatBytes, fromBase64Url, fromUtf8, toBase64Url, utf8 } from "./bytes.ts"
import { publicKeyBytes, publicKeysOf, PublicKeys, type Identity, type PublicKeyBytes } from "./identity.ts"

export const FRAME_VERSION = 2

const Frame = Schema.Struct({
  v: Schema.Literal(FRAME_VERSION),
  k: PublicKeys,
  m: Schema.String.check(Schema.isMaxLength(MAX_FRAME_BYTES)),
  s: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{86}$/)),
})
const decodeFrame = Schema.decodeUnknownResult(Schema.fromJsonString(Frame))
const VersionProbe = Schema.fromJsonString(Schema.Struct({ v: Schema.Unknown }))
const probeVersion = Schema.decodeUnknownResult(VersionProbe)

export interface OpenedFrame {
  /** The envelope with its text decrypted and any group-key list taken out. */
  readonly envelope: Envelope
  /** The signer's keys (equal to the pinned ones, or the sender is not pinned yet). */
  readonly keys: PublicKeys
  /** My key for a version of a group, unwrapped from signed group information, base64url. */
  readonly groupKey: { readonly group: GroupName; readonly version: number; readonly key: string } | null
}

export interface OpenFailure extends Drop {
  /** A validly signed frame from a pinned peer under other keys: the log notes it for the user. */
  readonly keyChange?: { readonly user: UserId; readonly keys: PublicKeys }
}

export interface SecureChannel {
  readonly keys: PublicKeys
  /** Outgoing (plaintext envelope) → the bytes to publish, or why it cannot be sent yet. */
  seal(state: ChatState, out: Outgoing): Result.Result<Uint8Array, string>
  open(state: ChatState, topic: string, payload: Uint8Array): Result.Result<OpenedFrame, OpenFailure>
}

const drop = (reason: string, extra: Partial<OpenFailure> = {}): Result.Result<never, OpenFailure> => Result.fail({ reason, routine: false, ...extra })

const signedBytes = (topic: string, keys: string, message: string) => utf8(`mqtt-chat/${FRAME_VERSION}\n${topic}\n${keys}\n${message}`)

const ZERO_NONCE = new Uint8Array(12)
const NONCE_BYTES = 12
/** Derived keys kept (pair keys, group keys); beyond this the cache starts over. Pure memoisation. */
const MAX_CACHED = 2048

const groupContext = (group: string, info: Pick<GroupInfo, "foundedBy" | "foundedClock">, version: number) => `${group}\n${info.foundedBy}\n${info.foundedClock}\n${version}`

export const makeSecureChannel = (crypto: CryptoPrimitives, identity: Identity): SecureChannel => {
  const me = identity.user
  const myKeys = publicKeysOf(crypto, identity)
  const cache = new Map<string, Uint8Array | null>()
  const memo = (id: string, make: () => Uint8Array | null): Uint8Array | null => {
    const hit = cache.get(id)
    if (hit !== undefined) return hit
    if (cache.size >= MAX_CACHED) cache.clear()
    const made = make()
    cache.set(id, made)
    return made
  }

  const pairKey = (peerKeys: PublicKeyBytes, peerKeysText: string, topic: string) =>
    memo(`pair ${peerKeysText} ${topic}`, () => {
      const shared = crypto.agree(identity.agreeSeed, peerKeys.agree)
      return shared === null ? null : crypto.hkdf(shared, utf8("mqtt-chat pair key"), utf8(topic), 32)
    })

  /** The key of version `version` of a group I lead (derived: nothing to store or lose). */
  const leaderGroupKey = (group: string, info: Pick<GroupInfo, "foundedBy" | "foundedClock">, version: number) =>
    crypto.hkdf(identity.signSeed, utf8("mqtt-chat group key"), utf8(groupContext(group, info, version)), 32)

  const wrapKey = (otherAgree: Uint8Array, otherKeysText: string, group: string, info: Pick<GroupInfo, "foundedBy" | "foundedClock">, version: number, member: UserId) =>
    memo(`wrap ${otherKeysText} ${groupContext(group, info, version)} ${member}`, () => {
      const shared = crypto.agree(identity.agreeSeed, otherAgree)
      return shared === null ? null : crypto.hkdf(shared, utf8("mqtt-chat group wrap"), utf8(`${groupContext(group, info, version)}\n${member}`), 32)
    })

  /** Synthetic nonce: the same text under the same associated data always seals to the same bytes. */
  const sealText = (key: Uint8Array, aad: Uint8Array, text: string): string => {
    const plaintext = utf8(text)
    const nonce = crypto.hmac(key, concatBytes(aad, new Uint8Array([0]), plaintext)).subarray(0, NONCE_BYTES)
    return toBase64Url(concatBytes(nonce, crypto.seal(key, nonce, plaintext, aad)))
  }
  const openText = (key: Uint8Array, aad: Uint8Array, box: string): string | null => {
    const bytes = fromBase64Url(box)
    if (bytes === null || bytes.length <= NONCE_BYTES + 16) return null
    const plain = crypto.open(key, bytes.subarray(0, NONCE_BYTES), bytes.subarray(NONCE_BYTES), aad)
    if (plain === null) return null
    const text = fromUtf8(plain)
    return text !== null && text.length >= 1 && text.length <= MAX_TEXT_CHARS ? text : null
  }

  const chatAad = (topic: string, env: Envelope, n: number) => utf8(`chat\n${topic}\n${env.from}\n${env.id}\n${n}`)
  const groupAad = (group: string, epoch: number, env: Envelope, n: number) => utf8(`group\n${group}\n${epoch}\n${env.from}\n${env.id}\n${n}`)

  /** My current key for a group: derived when I lead it, else the newest the leader gave me. */
  const currentGroupKey = (state: ChatState, group: GroupName): { readonly version: number; readonly key: Uint8Array } | null => {
    const info = state.groups.get(group)?.context.info ?? null
    if (info !== null && info.leader === me) return { version: info.version, key: leaderGroupKey(group, info, info.version) }
    const newest = state.trust.groupKeys[group]?.at(-1)
    const key = newest === undefined ? null : fromBase64Url(newest.key)
    return newest === undefined || key === null ? null : { version: newest.version, key }
  }

  const groupKeysFor = (state: ChatState, group: GroupName, epoch: number): ReadonlyArray<Uint8Array> => {
    const keys: Uint8Array[] = []
    for (const kept of state.trust.groupKeys[group] ?? []) {
      const key = kept.version === epoch ? fromBase64Url(kept.key) : null
      if (key !== null) keys.push(key)
    }
    const info = state.groups.get(group)?.context.info ?? null
    // I may have led that version (before a handover): my own derivation is a candidate too.
    if (info !== null) keys.push(leaderGroupKey(group, info, epoch))
    return keys
  }

  const withWrappedKeys = (state: ChatState, info: GroupInfo): GroupInfo => {
    if (info.leader !== me || info.dissolved) return info
    const groupKey = leaderGroupKey(info.name, info, info.version)
    const keys: Array<{ member: UserId; box: string }> = []
    for (const member of info.members) {
      if (member === me) continue
      const pinned = state.trust.pins[member]
      const bytes = pinned === undefined ? null : publicKeyBytes(pinned)
      if (pinned === undefined || bytes === null) continue // never heard from: cannot wrap for it (docs/security.md)
      const wrap = wrapKey(bytes.agree, pinned, info.name, info, info.version, member)
      if (wrap === null) continue
      const aad = utf8(`${groupContext(info.name, info, info.version)}\n${member}`)
      keys.push({ member, box: toBase64Url(crypto.seal(wrap, ZERO_NONCE, groupKey, aad)) })
    }
    return { ...info, keys }
  }

  const sealBody = (state: ChatState, out: Outgoing): Result.Result<Body, string> => {
    const env = out.envelope
    const body = env.body
    switch (body._tag) {
      case "chat.message": {
        const where = parseTopic(out.topic)
        if (where.kind !== "talk") return Result.fail(`chat text on ${out.topic}, not a talk topic`)
        const peer = where.users[0] === me ? where.users[1] : where.users[0]
        const pinned = state.trust.pins[peer]
        const bytes = pinned === undefined ? null : publicKeyBytes(pinned)
        const key = pinned === undefined || bytes === null ? null : pairKey(bytes, pinned, out.topic)
        if (key === null) return Result.fail(`no key of ${peer} yet: cannot encrypt to them`)
        return Result.succeed({ _tag: "chat.sealed", n: body.n, box: sealText(key, chatAad(out.topic, env, body.n), body.text) })
      }
      case "group.message": {
        const current = currentGroupKey(state, body.group)
        if (current === null) return Result.fail(`no key for #${body.group} yet: the leader has not sent one`)
        return Result.succeed({ _tag: "group.sealed", group: body.group, n: body.n, epoch: current.version, box: sealText(current.key, groupAad(body.group, current.version, env, body.n), body.text) })
      }
      case "group.info":
        return Result.succeed({ ...body, info: withWrappedKeys(state, body.info) })
      case "group.accept":
        return Result.succeed({ ...body, info: withWrappedKeys(state, body.info) })
      default:
        return Result.succeed(body)
    }
  }

  const seal: SecureChannel["seal"] = (state, out) => {
    const sealed = sealBody(state, out)
    if (Result.isFailure(sealed)) return Result.fail(sealed.failure)
    const message = encodeEnvelope({ ...out.envelope, body: sealed.success })
    const signature = toBase64Url(crypto.sign(identity.signSeed, signedBytes(out.topic, myKeys, message)))
    const frame = utf8(JSON.stringify({ v: FRAME_VERSION, k: myKeys, m: message, s: signature }))
    if (frame.byteLength > MAX_FRAME_BYTES) return Result.fail(`too large once signed and encrypted (${frame.byteLength} > ${MAX_FRAME_BYTES} bytes)`)
    return Result.succeed(frame)
  }

  /** Takes my wrapped key out of signed group information; the list itself is never stored. */
  const unwrapGroupKey = (info: GroupInfo, signer: PublicKeyBytes, signerText: string): OpenedFrame["groupKey"] => {
    const mine = info.keys?.find((k) => k.member === me)
    if (mine === undefined) return null
    const wrap = wrapKey(signer.agree, signerText, info.name, info, info.version, me)
    const box = fromBase64Url(mine.box)
    if (wrap === null || box === null) return null
    const key = crypto.open(wrap, ZERO_NONCE, box, utf8(`${groupContext(info.name, info, info.version)}\n${me}`))
    return key === null || key.length !== 32 ? null : { group: info.name, version: info.version, key: toBase64Url(key) }
  }

  const stripKeys = (info: GroupInfo): GroupInfo => {
    if (info.keys === undefined) return info
    const { keys: _keys, ...plain } = info
    return plain
  }

  const openBody = (state: ChatState, topic: string, env: Envelope, signer: PublicKeyBytes, signerText: PublicKeys): Result.Result<OpenedFrame, OpenFailure> => {
    const body = env.body
    const done = (b: Body, groupKey: OpenedFrame["groupKey"] = null) => Result.succeed({ envelope: b === body ? env : { ...env, body: b }, keys: signerText, groupKey })
    switch (body._tag) {
      case "chat.message":
      case "group.message":
        return drop(`${body._tag} in plain text (chat text must be encrypted)`)
      case "chat.sealed": {
        const where = parseTopic(topic)
        if (where.kind !== "talk" || !where.users.includes(me)) return drop("encrypted chat text outside my talk topics")
        const key = pairKey(signer, signerText, topic)
        const text = key === null ? null : openText(key, chatAad(topic, env, body.n), body.box)
        if (text === null) return drop(`cannot decrypt a message from ${env.from}`)
        return done({ _tag: "chat.message", text, n: body.n })
      }
      case "group.sealed": {
        for (const key of groupKeysFor(state, body.group, body.epoch)) {
          const text = openText(key, groupAad(body.group, body.epoch, env, body.n), body.box)
          if (text !== null) return done({ _tag: "group.message", group: body.group, text, n: body.n })
        }
        return drop(`no key to read #${body.group} version ${body.epoch} (not given to me, or not yet)`)
      }
      case "group.info":
        return done({ ...body, info: stripKeys(body.info) }, unwrapGroupKey(body.info, signer, signerText))
      case "group.accept":
        return done({ ...body, info: stripKeys(body.info) }, unwrapGroupKey(body.info, signer, signerText))
      default:
        return done(body)
    }
  }

  const open: SecureChannel["open"] = (state, topic, payload) => {
    if (payload.byteLength > MAX_FRAME_BYTES) return drop(`oversize (${payload.byteLength} bytes)`)
    const text = fromUtf8(payload)
    if (text === null) return drop("not-json: payload is not UTF-8")
    const frame = decodeFrame(text)
    if (Result.isFailure(frame)) {
      const probe = probeVersion(text)
      if (Result.isFailure(probe)) return drop(payload.byteLength === 0 ? "empty payload" : "not-json: payload is not a JSON object")
      const v = probe.success.v
      if (v === 1) return drop("unsigned message (protocol 1): refused")
      if (v !== FRAME_VERSION) return drop(`unknown-version: protocol version ${String(v).slice(0, 20)}`)
      return drop(`invalid frame: ${frame.failure.message.slice(0, 200)}`)
    }
    const { k, m, s } = frame.success
    const signer = publicKeyBytes(k)
    const signature = fromBase64Url(s)
    if (signer === null || signature === null) return drop("invalid frame: malformed keys or signature")
    // Verified before anything else is read: nothing unsigned reaches a decision.
    if (!crypto.verify(signer.sign, signedBytes(topic, k, m), signature)) return drop("bad signature")
    const decoded = decodeEnvelopeText(m, MAX_FRAME_BYTES)
    if (Result.isFailure(decoded)) {
      const failure = decoded.failure
      return drop(failure.reason === "oversize" ? `oversize (${failure.bytes} bytes)` : `${failure.reason}: ${failure.detail}`)
    }
    const env = decoded.success
    if (env.from === me) {
      if (k !== myKeys) return drop(`signed as ${me} with keys that are not mine: forged`)
      return Result.succeed({ envelope: env, keys: k, groupKey: null })
    }
    const pinned = state.trust.pins[env.from]
    if (pinned !== undefined && pinned !== k) {
      return drop(`keys of ${env.from} changed: refused until you trust them (/whois ${env.from}, /trust ${env.from})`, { keyChange: { user: env.from, keys: k } })
    }
    return openBody(state, topic, env, signer, k)
  }

  return { keys: myKeys, seal, open }
}
