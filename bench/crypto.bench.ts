/**
 * What signing and encryption cost per message, next to baselines measured in the same process:
 *   1. the plain codec (encode + decode of the same envelope): what a message cost before frames;
 *   2. raw Ed25519 sign + verify of the same bytes: the floor of any signed frame;
 *   3. sealing and opening a one-to-one message, a group message, and group information that wraps
 *      the key for 50 members (done once per membership change);
 *   4. end to end: two ChatService users over the in-memory broker and log, messages sent and
 *      received per second with every frame signed, encrypted, verified and decrypted — next to the
 *      seal + open rate alone, so the share of the crypto in the whole is visible;
 *   5. the same through a real Mosquitto (when installed), next to a raw MQTT.js QoS 1 pair on the
 *      same broker in the same run: the performance issue's baseline, with signing and encryption on.
 * Prints tables, asserts nothing. Run: npx tsx bench/crypto.bench.ts (about 10 s).
 */
import * as os from "node:os"
import { performance } from "node:perf_hooks"
import { Result } from "effect"
import { MemoryBroker, memoryTransportLayer } from "../adapters/sim-network/memory-broker.ts"
import { MemoryEventLog } from "../adapters/storage/memory-event-log.ts"
import { nodeCryptoPrimitives as crypto } from "../adapters/system/node-crypto.ts"
import { initialChatState, type ChatState } from "../domain/chat/chat-state.ts"
import type { Outgoing } from "../domain/events.ts"
import { topics, type GroupName, type MessageId, type UserId } from "../domain/ids.ts"
import { utf8 } from "../domain/trust/bytes.ts"
import { publicKeysOf, type Identity } from "../domain/trust/identity.ts"
import { makeSecureChannel } from "../domain/trust/secure-channel.ts"
import { decodeEnvelopeText, encodeEnvelope, type Body } from "../domain/wire/messages.ts"
import mqtt from "mqtt"
import { MqttTransport } from "../adapters/mqtt/mqtt-transport.ts"
import { eventually, startUser } from "../tests/support/chat-user.ts"
import { mosquittoAvailable, startMosquitto } from "../tests/support/mosquitto.ts"
import { printTable } from "./table.ts"

const MIN_MEASURE_MS = 400
const MAX_REPEATS = 200_000
const END_TO_END_MESSAGES = 2_000

const perSecond = (body: () => void): number => {
  for (let i = 0; i < 50; i++) body()
  let runs = 0
  const start = performance.now()
  while (performance.now() - start < MIN_MEASURE_MS && runs < MAX_REPEATS) {
    body()
    runs += 1
  }
  return (runs * 1000) / (performance.now() - start)
}

const identity = (user: string, seed: number): Identity => ({ user: user as UserId, signSeed: new Uint8Array(32).fill(seed), agreeSeed: new Uint8Array(32).fill(seed + 100) })
const alice = identity("user-11111", 1)
const bob = identity("user-22222", 2)
const members = Array.from({ length: 50 }, (_, i) => identity(`user-${30000 + i}`, 10 + i))
const stateOf = (me: Identity, ...pinned: ReadonlyArray<Identity>): ChatState => ({
  ...initialChatState(),
  me: me.user,
  trust: { pins: Object.fromEntries(pinned.map((p) => [p.user, publicKeysOf(crypto, p)])), keyChanges: {}, groupKeys: {} },
})
const text = "A typical chat line, about eighty characters long, with a little punctuation: ok?"
const out = (topic: string, body: Body): Outgoing => ({
  topic: topic as Outgoing["topic"],
  retain: false,
  envelope: { v: 1, id: "k3f9x2m7q1w80008" as MessageId, from: alice.user, ts: 1_732_550_404_400, clock: 8, body },
})

const pairTopic = topics.talk(alice.user, bob.user)
const chat = out(pairTopic, { _tag: "chat.message", text, n: 1 })
const sender = makeSecureChannel(crypto, alice)
const receiver = makeSecureChannel(crypto, bob)
const senderState = stateOf(alice, bob, ...members)
const receiverState = stateOf(bob, alice)
const chatFrame = Result.getOrThrow(sender.seal(senderState, chat))

const info = { name: "bench" as GroupName, leader: alice.user, members: [alice.user, ...members.map((m) => m.user)], version: 4, foundedClock: 1, foundedBy: alice.user, dissolved: false }
const infoOut = { ...out(topics.groupInfo(info.name), { _tag: "group.info", info }), retain: true }
const infoFrame = Result.getOrThrow(sender.seal(senderState, infoOut))
const memberChannel = makeSecureChannel(crypto, members[0]!)
const groupKey = Result.getOrThrow(memberChannel.open(stateOf(members[0]!, alice), topics.groupInfo(info.name), infoFrame)).groupKey!
const memberState: ChatState = { ...stateOf(members[0]!, alice), trust: { ...stateOf(members[0]!, alice).trust, groupKeys: { bench: [{ version: 4, from: alice.user, key: groupKey.key }] } } }
// Member 1 writes to the group, member 0 reads: both hold the version's key the leader wrapped.
const writer = makeSecureChannel(crypto, members[1]!)
const writerState: ChatState = { ...stateOf(members[1]!, members[0]!), trust: { ...stateOf(members[1]!, members[0]!).trust, groupKeys: memberState.trust.groupKeys } }
const readerState: ChatState = { ...memberState, trust: { ...memberState.trust, pins: { ...memberState.trust.pins, ...stateOf(members[0]!, members[1]!).trust.pins } } }
const groupOut: Outgoing = { ...out(topics.groupTalk(info.name), { _tag: "group.message", group: info.name, text, n: 1 }), envelope: { ...out(topics.groupTalk(info.name), { _tag: "group.message", group: info.name, text, n: 1 }).envelope, from: members[1]!.user } }
const groupFrame = Result.getOrThrow(writer.seal(writerState, groupOut))

const plainJson = encodeEnvelope(chat.envelope)
const signedBytes = utf8(`mqtt-chat/2\n${pairTopic}\n${plainJson}`)
const signature = crypto.sign(alice.signSeed, signedBytes)
const alicePublic = crypto.signingPublicKey(alice.signSeed)

const rows: Array<[string, number]> = [
  ["plain codec: encode + decode (baseline)", perSecond(() => { decodeEnvelopeText(encodeEnvelope(chat.envelope)) })],
  ["raw Ed25519 sign + verify (floor)", perSecond(() => { crypto.sign(alice.signSeed, signedBytes); crypto.verify(alicePublic, signedBytes, signature) })],
  ["seal one-to-one (sign + encrypt)", perSecond(() => { sender.seal(senderState, chat) })],
  ["open one-to-one (verify + decrypt)", perSecond(() => { receiver.open(receiverState, pairTopic, chatFrame) })],
  ["seal + open one-to-one", perSecond(() => { receiver.open(receiverState, pairTopic, Result.getOrThrow(sender.seal(senderState, chat))) })],
  ["seal + open group message", perSecond(() => { memberChannel.open(readerState, topics.groupTalk(info.name), Result.getOrThrow(writer.seal(writerState, groupOut))) })],
  ["seal group information, 50 members", perSecond(() => { sender.seal(senderState, infoOut) })],
]
const baseline = rows[0]![1]
const floor = rows[1]![1]
console.log(`\nmachine: ${os.cpus()[0]?.model ?? "?"} × ${os.cpus().length}, load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}\n`)
printTable(["per message", "per second", "µs each", "× plain codec time", "× raw sign+verify time"],
  rows.map(([name, rate]) => [name, Math.round(rate).toLocaleString("en"), (1e6 / rate).toFixed(1), (baseline / rate).toFixed(1), (floor / rate).toFixed(2)]))
console.log(`\nframe sizes: one-to-one ${chatFrame.byteLength} B (plain envelope ${plainJson.length} B), group message ${groupFrame.byteLength} B, group information for 50 members ${infoFrame.byteLength} B`)

// --- end to end through the real service
const broker = new MemoryBroker({ autoFlush: true })
const start = () => startUser({ log: MemoryEventLog.layer, transport: (p) => memoryTransportLayer(broker, { clientId: p.me, will: p.willFor }) })
const [a, b] = [await start(), await start()]
await a.run(a.service.startConversation(b.service.me))
await eventually("B has the request", async () => (await b.run(b.service.requests())).length === 1)
await b.run(b.service.acceptConversation(a.service.me))
await eventually("A is active", async () => (await a.run(a.service.listUsers()))[0]?.conversation === "active")
const target = { _tag: "peer" as const, peer: b.service.me }
const t0 = performance.now()
for (let i = 0; i < END_TO_END_MESSAGES; i++) await a.run(a.service.send(target, `${text} ${i}`))
await eventually("B got them all", async () => (await b.run(b.service.stats)).received >= END_TO_END_MESSAGES, 120_000)
const e2e = (END_TO_END_MESSAGES * 1000) / (performance.now() - t0)
await a.stop()
await b.stop()
const cryptoOnly = rows[4]![1]
console.log("")
printTable(["end to end (memory broker and log, one sender awaiting each send)", "messages per second", "crypto share of the time"],
  [[`ChatService → ChatService, ${END_TO_END_MESSAGES.toLocaleString("en")} messages`, Math.round(e2e).toLocaleString("en"), `${((e2e / cryptoOnly) * 100).toFixed(1)} %`]])

// --- through a real Mosquitto, next to a raw MQTT.js pair on the same broker
if (!mosquittoAvailable()) {
  console.log("\nMosquitto not installed: the broker rows are left out")
} else {
  const mosquitto = await startMosquitto()
  try {
    // Baseline: one raw MQTT.js publisher awaiting each QoS 1 publish, one subscriber.
    const sub = await mqtt.connectAsync(mosquitto.url, { protocolVersion: 4, clientId: "bench-raw-sub", clean: true })
    const pub = await mqtt.connectAsync(mosquitto.url, { protocolVersion: 4, clientId: "bench-raw-pub", clean: true })
    let got = 0
    sub.on("message", () => { got += 1 })
    await sub.subscribeAsync("raw/bench", { qos: 1 })
    const payload = Buffer.from(chatFrame)
    const r0 = performance.now()
    for (let i = 0; i < END_TO_END_MESSAGES; i++) await pub.publishAsync("raw/bench", payload, { qos: 1 })
    await eventually("the raw subscriber got them all", () => got >= END_TO_END_MESSAGES, 120_000)
    const raw = (END_TO_END_MESSAGES * 1000) / (performance.now() - r0)
    await pub.endAsync()
    await sub.endAsync()

    const onBroker = () => startUser({ log: MemoryEventLog.layer, transport: (p) => MqttTransport.layer({ url: mosquitto.url, clientId: p.me, will: p.willFor }) })
    const [x, y] = [await onBroker(), await onBroker()]
    await x.run(x.service.startConversation(y.service.me))
    await eventually("Y has the request", async () => (await y.run(y.service.requests())).length === 1, 30_000)
    await y.run(y.service.acceptConversation(x.service.me))
    await eventually("X is active", async () => (await x.run(x.service.listUsers())).find((u) => u.user === y.service.me)?.conversation === "active", 30_000)
    const receivedBefore = (await y.run(y.service.stats)).received
    const m0 = performance.now()
    for (let i = 0; i < END_TO_END_MESSAGES; i++) await x.run(x.service.send({ _tag: "peer", peer: y.service.me }, `${text} ${i}`))
    await eventually("Y got them all", async () => (await y.run(y.service.stats)).received - receivedBefore >= END_TO_END_MESSAGES, 120_000)
    const chatRate = (END_TO_END_MESSAGES * 1000) / (performance.now() - m0)
    await x.stop()
    await y.stop()
    console.log("")
    printTable(["through Mosquitto, one sender awaiting each send", "messages per second", "× raw pair"], [
      [`raw MQTT.js QoS 1 pair, ${END_TO_END_MESSAGES.toLocaleString("en")} frames of ${payload.byteLength} B (baseline)`, Math.round(raw).toLocaleString("en"), "1.00"],
      ["ChatService → ChatService (signed, encrypted, memory log)", Math.round(chatRate).toLocaleString("en"), (chatRate / raw).toFixed(2)],
    ])
  } finally {
    await mosquitto.dispose()
  }
}
