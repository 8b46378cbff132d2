/** The port contract on the MQTT.js adapter, against the embedded aedes (Mosquitto runs the MQTT contract). */
import { Socket } from "node:net"
import { MqttTransport } from "../../adapters/mqtt/mqtt-transport.ts"
import { startAedes, type BrokerHandle } from "../support/brokers.ts"
import { transportPortContract } from "./transport-port.contract.ts"

transportPortContract("MQTT.js on aedes", async () => {
  const broker: BrokerHandle = await startAedes()
  return {
    connect: (clientId, will) => MqttTransport.layer({ url: broker.url, clientId, ...(will ? { will: { ...will, retain: false } } : {}) }),
    // Another connection with the same client id takes the session over: the broker drops the old
    // connection without a DISCONNECT, so it publishes the old connection's will.
    crash: async (clientId) => {
      await new Promise<void>((resolve, reject) => {
        const socket = new Socket()
        socket.once("error", reject)
        socket.connect(broker.port, "127.0.0.1", () => {
          const id = Buffer.from(clientId)
          // MQTT 3.1.1 CONNECT, clean session false, keepalive 30, client id only.
          const variable = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x00, 0x00, 0x1e])
          const payload = Buffer.concat([Buffer.from([id.length >> 8, id.length & 0xff]), id])
          const remaining = variable.length + payload.length
          socket.write(Buffer.concat([Buffer.from([0x10, remaining]), variable, payload]))
          setTimeout(() => {
            socket.destroy()
            resolve()
          }, 200)
        })
      })
    },
    dispose: () => broker.dispose(),
  }
})
