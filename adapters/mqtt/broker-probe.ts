/** Whether something that speaks MQTT answers at a URL: the chat's choice of broker depends on it. */
import { Effect } from "effect"
import { MqttClient, ErrorWithReasonCode } from "mqtt"
import { parseBrokerUrl, socketTo } from "./broker-address.ts"

/**
 * Whether an MQTT broker answers at `url` within `timeoutMs` (a refused CONNACK still counts:
 * something that speaks MQTT is there). Used to decide whether to start the embedded broker.
 */
export const probeBroker = (url: string, timeoutMs: number): Effect.Effect<boolean> =>
  Effect.callback<boolean>((resume) => {
    const address = parseBrokerUrl(url)
    if (address === undefined) return resume(Effect.succeed(false))
    const probe = new MqttClient(socketTo(address), {
      protocolVersion: 4,
      clientId: `probe-${Math.random().toString(16).slice(2, 10)}`,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: timeoutMs,
      manualConnect: true,
    })
    let answered = false
    const finish = (result: boolean) => {
      if (answered) return
      answered = true
      clearTimeout(deadline)
      // A DISCONNECT when we got in (quiet broker logs), else just drop the socket.
      probe.end(!result)
      resume(Effect.succeed(result))
    }
    const deadline = setTimeout(() => finish(false), timeoutMs)
    probe.on("connect", () => finish(true))
    probe.on("error", (error) => finish(error instanceof ErrorWithReasonCode))
    probe.on("close", () => finish(false))
    probe.connect()
    return Effect.sync(() => finish(false))
  })
