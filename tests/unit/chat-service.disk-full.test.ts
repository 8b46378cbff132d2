/**
 * A disk that refuses one write: the message that arrived then is not stored, and it is not marked
 * as seen either, so the broker's (or the sender's) redelivery is stored once the disk has room.
 */
import { mkdtempSync, rmSync, write } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, expect, it } from "vitest"
import { MemoryBroker, memoryTransportLayer } from "../../adapters/sim-network/memory-broker.ts"
import { FileEventLog } from "../../adapters/storage/file-event-log.ts"
import { MemoryEventLog } from "../../adapters/storage/memory-event-log.ts"
import { eventually, startUser, type RunningUser } from "../support/chat-user.ts"

const running: RunningUser[] = []
const dirs: string[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((u) => u.stop().catch(() => undefined)))
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

it("a message whose append failed is stored when it comes again", async () => {
  const broker = new MemoryBroker({ autoFlush: true })
  const dir = mkdtempSync(join(tmpdir(), "mqtt-chat-disk-full-"))
  dirs.push(dir)
  let refuseNext = false
  const b = await startUser({
    log: FileEventLog.layer({
      dir,
      appendIo: {
        write: (fd, buffer, offset, length, position, callback) => {
          if (refuseNext) {
            refuseNext = false
            const error: NodeJS.ErrnoException = Object.assign(new Error("no space left on device"), { code: "ENOSPC" })
            return callback(error, 0)
          }
          write(fd, buffer, offset, length, position, callback)
        },
      },
    }),
    transport: (p) => memoryTransportLayer(broker, { clientId: p.me, will: p.willFor }),
  })
  const a = await startUser({ log: MemoryEventLog.layer, transport: (p) => memoryTransportLayer(broker, { clientId: p.me, will: p.willFor }) })
  running.push(a, b)
  await a.run(a.service.startConversation(b.service.me))
  await eventually("B has the request", async () => (await b.run(b.service.requests())).length === 1)
  await b.run(b.service.acceptConversation(a.service.me))
  await eventually("A is active", async () => (await a.run(a.service.listUsers()))[0]?.conversation === "active")

  // Capture the exact bytes of A's next message, then refuse B's next write.
  const copies: Array<{ topic: string; payload: Uint8Array }> = []
  const original = broker.publish.bind(broker)
  broker.publish = (message) => {
    if (message.topic.endsWith("_talk")) copies.push({ topic: message.topic, payload: message.payload })
    original(message)
  }
  // B's acceptance is acknowledged and that stored first: the refused write must be the message's.
  await eventually("B's sends are acknowledged and stored", async () => (await b.run(b.service.state)).outbox.size === 0)
  refuseNext = true
  await a.run(a.service.send({ _tag: "peer", peer: b.service.me }, "written while the disk was full"))
  await eventually("B reported the failed store", () => b.notices.some((n) => n._tag === "dropped" && n.reason.startsWith("could not store")))
  expect((await b.run(b.service.history({ _tag: "peer", peer: a.service.me }, { limit: 5 }))).messages).toEqual([])

  // The same envelope again (a QoS 1 redelivery): now stored, once.
  original({ topic: copies[0]!.topic, payload: copies[0]!.payload, retain: false })
  await eventually("B stored the redelivery", async () => (await b.run(b.service.history({ _tag: "peer", peer: a.service.me }, { limit: 5 }))).messages.length === 1)
  original({ topic: copies[0]!.topic, payload: copies[0]!.payload, retain: false })
  await new Promise((resolve) => setTimeout(resolve, 100))
  expect((await b.run(b.service.history({ _tag: "peer", peer: a.service.me }, { limit: 5 }))).messages.map((m) => m.text)).toEqual(["written while the disk was full"])
})
