/**
 * The full stack against its transport (issue 9): two headless chat users on one real Mosquitto,
 * each with its own file log (fsync) as the chat keeps it, next to a raw MQTT.js QoS 1 pair on the
 * same broker in the same run. Every figure is a ratio to that raw pair.
 *
 *   1. throughput: MESSAGES sends with up to WINDOW in flight (pipelined: the service batches what
 *      is queued), timed from the first send to the receiver's last `message` notice;
 *   2. end-to-end latency in an open loop at half of each side's own measured saturation rate:
 *      the sender sends on a fixed schedule whatever the answers do, the receiver stamps arrival;
 *   3. a group of GROUP_MEMBERS (the leader and the others, each a chat user with its own file log)
 *      against one raw publisher and GROUP_MEMBERS - 1 raw subscribers of one topic: deliveries
 *      per second, every member receiving every message.
 *
 * Repeated REPETITIONS times, medians reported (the rows say min–max too): on a loaded machine a
 * single run says little. Traffic goes to 127.0.0.1 only; every loop is bounded by MESSAGES.
 *
 *   npm run bench -- throughput
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import mqtt from "mqtt"
import { eventually, fileProfile, mqttTransportTo, startUser, type RunningUser } from "../tests/support/chat-user.ts"
import { mosquittoAvailable, startMosquitto } from "../tests/support/mosquitto.ts"
import { median, percentile } from "./stats.ts"
import { printTable } from "./table.ts"

const MESSAGES = 4_000
const WINDOW = 64
const REPETITIONS = 3
const LATENCY_MESSAGES = 1_500
const GROUP_MEMBERS = 50
const GROUP_MESSAGES = 400
/** About an 80-character chat line. */
const TEXT = "the quick brown fox jumps over the lazy dog, then naps in the afternoon sun; "

const spread = (values: ReadonlyArray<number>, digits = 0) =>
  `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`

/** Runs `count` tasks with at most `window` unfinished at a time. */
const pipelined = async (count: number, window: number, task: (index: number) => Promise<unknown>): Promise<void> => {
  let next = 0
  const lane = async () => {
    while (next < count) await task(next++)
  }
  await Promise.all(Array.from({ length: Math.min(window, count) }, lane))
}

/** Calls `task(i)` at `ratePerSecond` on a fixed schedule (open loop), never waiting for answers. */
const openLoop = async (count: number, ratePerSecond: number, task: (index: number) => void): Promise<void> => {
  const intervalMs = 1000 / ratePerSecond
  const started = performance.now()
  for (let index = 0; index < count; index++) {
    const due = started + index * intervalMs
    const wait = due - performance.now()
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait))
    task(index)
  }
}

// --- the baseline: raw MQTT.js

interface RawPair {
  readonly throughput: () => Promise<number>
  readonly latencies: (rate: number) => Promise<ReadonlyArray<number>>
  readonly close: () => Promise<void>
}

const rawPair = async (url: string, payloadBytes: number): Promise<RawPair> => {
  const sub = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: "bench-raw-sub", clean: true })
  const pub = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: "bench-raw-pub", clean: true })
  await sub.subscribeAsync("raw/bench", { qos: 1 })
  let onArrival: (payload: Buffer) => void = () => {}
  sub.on("message", (_topic, payload) => onArrival(payload))
  const payload = Buffer.alloc(payloadBytes, 0x61)
  return {
    throughput: async () => {
      let got = 0
      onArrival = () => { got += 1 }
      const t0 = performance.now()
      await pipelined(MESSAGES, WINDOW, () => pub.publishAsync("raw/bench", payload, { qos: 1 }))
      await eventually("the raw subscriber got them all", () => got >= MESSAGES, 120_000)
      return (MESSAGES * 1000) / (performance.now() - t0)
    },
    latencies: async (rate) => {
      const sentAt: number[] = []
      const latencies: number[] = []
      onArrival = (bytes) => {
        const index = bytes.readUInt32BE(0)
        const sent = sentAt[index]
        if (sent !== undefined) latencies.push(performance.now() - sent)
      }
      await openLoop(LATENCY_MESSAGES, rate, (index) => {
        const stamped = Buffer.from(payload)
        stamped.writeUInt32BE(index, 0)
        sentAt[index] = performance.now()
        void pub.publishAsync("raw/bench", stamped, { qos: 1 })
      })
      await eventually("the raw subscriber got the latency run", () => latencies.length >= LATENCY_MESSAGES, 120_000)
      return latencies
    },
    close: async () => {
      await pub.endAsync()
      await sub.endAsync()
    },
  }
}

// --- the chat: two ChatService users with file logs

interface ChatPair {
  readonly throughput: () => Promise<number>
  readonly latencies: (rate: number) => Promise<ReadonlyArray<number>>
  readonly close: () => Promise<void>
}

const chatPair = async (url: string, dir: string): Promise<ChatPair> => {
  let onMessage: (text: string) => void = () => {}
  const user = (name: string): Promise<RunningUser> =>
    startUser({
      ...fileProfile(path.join(dir, name)),
      transport: mqttTransportTo(url),
      watch: (notice) => {
        if (notice._tag === "message" && !notice.message.mine) onMessage(notice.message.text)
      },
    })
  const sender = await user("sender")
  const receiver = await user("receiver")
  await sender.run(sender.service.startConversation(receiver.service.me))
  await eventually("the receiver has the request", async () => (await receiver.run(receiver.service.requests())).length === 1, 30_000)
  await receiver.run(receiver.service.acceptConversation(sender.service.me))
  await eventually("the sender sees the conversation open", async () =>
    (await sender.run(sender.service.listUsers())).find((u) => u.user === receiver.service.me)?.conversation === "active", 30_000)
  const target = { _tag: "peer" as const, peer: receiver.service.me }
  let round = 0
  return {
    throughput: async () => {
      round += 1
      let got = 0
      onMessage = () => { got += 1 }
      const t0 = performance.now()
      await pipelined(MESSAGES, WINDOW, (index) => sender.run(sender.service.send(target, `${TEXT}${round}.${index}`)))
      await eventually("the receiver got them all", () => got >= MESSAGES, 300_000)
      return (MESSAGES * 1000) / (performance.now() - t0)
    },
    latencies: async (rate) => {
      round += 1
      const prefix = `L${round}.`
      const sentAt: number[] = []
      const latencies: number[] = []
      onMessage = (text) => {
        if (!text.startsWith(prefix)) return
        const sent = sentAt[Number.parseInt(text.slice(prefix.length), 10)]
        if (sent !== undefined) latencies.push(performance.now() - sent)
      }
      await openLoop(LATENCY_MESSAGES, rate, (index) => {
        sentAt[index] = performance.now()
        void sender.run(sender.service.send(target, `${prefix}${index} ${TEXT}`))
      })
      await eventually("the receiver got the latency run", () => latencies.length >= LATENCY_MESSAGES, 300_000)
      return latencies
    },
    close: async () => {
      await sender.stop()
      await receiver.stop()
    },
  }
}

// --- a 50-member group, and its raw baseline: one publisher, 49 subscribers of one topic

const rawFanOut = async (url: string, readers: number, payloadBytes: number): Promise<number> => {
  const subscribers = await Promise.all(Array.from({ length: readers }, (_, i) => mqtt.connectAsync(url, { protocolVersion: 4, clientId: `bench-fan-${i}`, clean: true })))
  const publisher = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: "bench-fan-pub", clean: true })
  let got = 0
  for (const subscriber of subscribers) {
    subscriber.on("message", () => { got += 1 })
    await subscriber.subscribeAsync("raw/fan", { qos: 1 })
  }
  const payload = Buffer.alloc(payloadBytes, 0x62)
  const t0 = performance.now()
  await pipelined(GROUP_MESSAGES, WINDOW, () => publisher.publishAsync("raw/fan", payload, { qos: 1 }))
  await eventually("every raw subscriber got them all", () => got >= GROUP_MESSAGES * readers, 300_000)
  const rate = (GROUP_MESSAGES * readers * 1000) / (performance.now() - t0)
  await publisher.endAsync()
  await Promise.all(subscribers.map((subscriber) => subscriber.endAsync()))
  return rate
}

const chatGroup = async (url: string, dir: string): Promise<{ readonly deliveries: () => Promise<number>; readonly close: () => Promise<void> }> => {
  let got = 0
  const user = (name: string) =>
    startUser({
      ...fileProfile(path.join(dir, name)),
      transport: mqttTransportTo(url),
      watch: (notice) => {
        if (notice._tag === "message" && !notice.message.mine && notice.message.topic === "group_bench_talk") got += 1
      },
    })
  const leader = await user("leader")
  const members: RunningUser[] = []
  for (let i = 1; i < GROUP_MEMBERS; i++) members.push(await user(`member-${i}`))
  await leader.run(leader.service.createGroup("bench"))
  for (const member of members) {
    await eventually("the member sees the group", async () => (await member.run(member.service.listGroups())).some((g) => g.name === "bench"), 30_000)
    await member.run(member.service.joinGroup("bench"))
    await eventually("the leader has the join request", async () => ((await leader.run(leader.service.listGroups())).find((g) => g.name === "bench")?.pending.length ?? 0) > 0, 30_000)
    await leader.run(leader.service.acceptJoin("bench", member.service.me))
  }
  await eventually("every member holds the group key of the last version", async () => {
    const views = await Promise.all(members.map((member) => member.run(member.service.listGroups())))
    return views.every((groups) => groups.find((g) => g.name === "bench")?.members.length === GROUP_MEMBERS)
  }, 120_000)
  const target = { _tag: "group" as const, group: await leader.run(leader.service.parseGroup("bench")) }
  let round = 0
  return {
    deliveries: async () => {
      round += 1
      got = 0
      const t0 = performance.now()
      await pipelined(GROUP_MESSAGES, WINDOW, (index) => leader.run(leader.service.send(target, `${TEXT}${round}.${index}`)))
      await eventually("every member got every message", () => got >= GROUP_MESSAGES * members.length, 300_000)
      return (GROUP_MESSAGES * members.length * 1000) / (performance.now() - t0)
    },
    close: async () => {
      await leader.stop()
      for (const member of members) await member.stop()
    },
  }
}

// --- the run

if (!mosquittoAvailable()) {
  console.log("Mosquitto is not installed: this bench needs it (apt-get install -y mosquitto)")
  process.exit(0)
}
console.log(`machine: ${os.cpus()[0]?.model ?? "?"} × ${os.cpus().length}, load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`)
const mosquitto = await startMosquitto()
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-throughput-"))
try {
  // The frame of an 80-character one-to-one message is about 500 bytes: the raw pair sends as much.
  const raw = await rawPair(mosquitto.url, 500)
  const chat = await chatPair(mosquitto.url, dir)
  const rawRates: number[] = []
  const chatRates: number[] = []
  for (let repetition = 0; repetition < REPETITIONS; repetition++) {
    rawRates.push(await raw.throughput())
    chatRates.push(await chat.throughput())
  }
  const rawRate = median(rawRates)
  const chatRate = median(chatRates)
  printTable([`throughput, ${MESSAGES.toLocaleString("en")} messages, ${WINDOW} in flight, median of ${REPETITIONS}`, "msg/s", "min–max", "× raw"], [
    ["raw MQTT.js QoS 1 pair, 500-byte frames (baseline)", Math.round(rawRate).toLocaleString("en"), spread(rawRates), "1.00"],
    ["ChatService → ChatService (signed, encrypted, file log with fsync)", Math.round(chatRate).toLocaleString("en"), spread(chatRates), (chatRate / rawRate).toFixed(2)],
  ])

  // Latency at half of each side's own saturation, and the chat's also at the raw pair's half rate when slower.
  const chatHalf = Math.max(10, Math.round(chatRate / 2))
  const rows: string[][] = []
  const latencyRow = async (name: string, run: () => Promise<ReadonlyArray<number>>) => {
    const p50s: number[] = []
    const p99s: number[] = []
    for (let repetition = 0; repetition < REPETITIONS; repetition++) {
      const latencies = await run()
      p50s.push(percentile(latencies, 50))
      p99s.push(percentile(latencies, 99))
    }
    return { name, p50: median(p50s), p99: median(p99s), p99s }
  }
  const rawAtChatHalf = await latencyRow(`raw pair at ${chatHalf} msg/s (baseline)`, () => raw.latencies(chatHalf))
  const chatAtHalf = await latencyRow(`ChatService at ${chatHalf} msg/s (half its saturation)`, () => chat.latencies(chatHalf))
  for (const row of [rawAtChatHalf, chatAtHalf]) {
    rows.push([row.name, row.p50.toFixed(2), row.p99.toFixed(2), spread(row.p99s, 1), (row.p99 / rawAtChatHalf.p99).toFixed(1)])
  }
  console.log("")
  printTable([`end-to-end latency, open loop, ${LATENCY_MESSAGES.toLocaleString("en")} messages, median of ${REPETITIONS}`, "p50 ms", "p99 ms", "p99 min–max", "p99 × raw"], rows)
  await chat.close()
  await raw.close()

  const group = await chatGroup(mosquitto.url, path.join(dir, "group"))
  const rawFan: number[] = []
  const chatFan: number[] = []
  for (let repetition = 0; repetition < REPETITIONS; repetition++) {
    rawFan.push(await rawFanOut(mosquitto.url, GROUP_MEMBERS - 1, 500))
    chatFan.push(await group.deliveries())
  }
  await group.close()
  console.log("")
  printTable([`a ${GROUP_MEMBERS}-member group, ${GROUP_MESSAGES} messages, ${WINDOW} in flight, median of ${REPETITIONS}`, "deliveries/s", "min–max", "× raw"], [
    [`raw MQTT.js: 1 publisher, ${GROUP_MEMBERS - 1} QoS 1 subscribers (baseline)`, Math.round(median(rawFan)).toLocaleString("en"), spread(rawFan), "1.00"],
    [`ChatService leader → ${GROUP_MEMBERS - 1} members (file logs)`, Math.round(median(chatFan)).toLocaleString("en"), spread(chatFan), (median(chatFan) / median(rawFan)).toFixed(2)],
  ])
} finally {
  await mosquitto.dispose()
  fs.rmSync(dir, { recursive: true, force: true })
}
