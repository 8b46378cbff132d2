/**
 * docs/protocol.md's examples are real: every frame opens with the documented identities (and says
 * what the text around it says), every envelope example decodes.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { nodeCryptoPrimitives as crypto } from "../../adapters/system/node-crypto.ts"
import { makeSecureChannel } from "../../domain/trust/secure-channel.ts"
import { decodeEnvelopeText } from "../../domain/wire/messages.ts"
import { docAlice, docBob, docStateOf } from "../support/doc-identities.ts"

const doc = readFileSync(join(import.meta.dirname, "..", "..", "docs", "protocol.md"), "utf8")
/** Each ```json block with the line of prose before it. */
const examples = [...doc.matchAll(/([^\n]*)\n\n?```json\n([\s\S]*?)\n```/g)].map((m) => ({ before: m[1]!, json: m[2]! }))

describe("docs/protocol.md", () => {
  it("has frame and envelope examples", () => {
    expect(examples.filter((e) => e.json.startsWith('{"v":2')).length).toBeGreaterThanOrEqual(2)
    expect(examples.filter((e) => /"v": ?1/.test(e.json)).length).toBeGreaterThanOrEqual(10)
  })

  it("every frame example opens for Bob, on the topic its text names", () => {
    const bob = makeSecureChannel(crypto, docBob)
    for (const example of examples.filter((e) => e.json.startsWith('{"v":2'))) {
      const topic = /`([^`]+)`:?$/.exec(example.before)?.[1]
      expect(topic, example.before).toBeDefined()
      const opened = bob.open(docStateOf(docBob, docAlice), topic!, new TextEncoder().encode(example.json))
      expect(Result.isSuccess(opened), `${topic}: ${Result.isFailure(opened) ? opened.failure.reason : ""}`).toBe(true)
      if (Result.isSuccess(opened) && opened.success.envelope.body._tag === "chat.message") expect(opened.success.envelope.body.text).toBe("hello, are you there?")
    }
  })

  it("every envelope example decodes", () => {
    for (const example of examples.filter((e) => /"v": ?1/.test(e.json) && !e.json.startsWith('{"v":2'))) {
      const decoded = decodeEnvelopeText(example.json)
      expect(Result.isSuccess(decoded), `${example.json.slice(0, 120)}: ${Result.isFailure(decoded) ? JSON.stringify(decoded.failure) : ""}`).toBe(true)
    }
  })
})
