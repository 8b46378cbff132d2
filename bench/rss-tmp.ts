import { MemoryBroker, memoryTransportLayer } from "../adapters/sim-network/memory-broker.ts"
import { fileProfile, startUser } from "../tests/support/chat-user.ts"
const rss = () => Math.round(process.memoryUsage().rss / 1e6)
const dir = process.argv[2]!
console.log("before", rss())
const broker = new MemoryBroker({ autoFlush: true })
const t = performance.now()
const a = await startUser({ ...fileProfile(dir), snapshots: { everyRecords: 5000, checkEveryMs: 2000 }, transport: (p) => memoryTransportLayer(broker, { clientId: p.me, will: p.willFor }) })
console.log("started", rss(), Math.round(performance.now() - t), a.profile.restoredFrom)
await new Promise((r) => setTimeout(r, 500))
console.log("after 500ms", rss(), process.memoryUsage().heapUsed / 1e6, process.memoryUsage().arrayBuffers / 1e6)
await a.stop()
console.log("stopped", rss())
