import { MemoryBroker, memoryTransportLayer } from "../../adapters/sim-network/memory-broker.ts"
import { transportPortContract } from "./transport-port.contract.ts"

transportPortContract("in-memory broker", async () => {
  const broker = new MemoryBroker({ autoFlush: true })
  return {
    connect: (clientId, will) => memoryTransportLayer(broker, { clientId, ...(will ? { will: () => ({ ...will, retain: false }) } : {}) }),
    crash: async (clientId) => broker.crash(clientId),
    dispose: async () => undefined,
  }
})
