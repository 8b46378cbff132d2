/**
 * A chat client in its own process, for crash tests: starts a ChatService on the real MQTT
 * transport and file log, prints `READY <user-id>` and waits to be killed.
 *   tsx tests/support/chat-child.ts <broker-url> <profile-dir>
 */
import { Effect } from "effect"
import { MqttTransport } from "../../adapters/mqtt/mqtt-transport.ts"
import { fileProfile, startUser } from "./chat-user.ts"

const [url, dir] = process.argv.slice(2)
if (url === undefined || dir === undefined) {
  console.error("usage: chat-child.ts <broker-url> <profile-dir>")
  process.exit(2)
}
const user = await startUser({
  ...fileProfile(dir),
  transport: (profile) => MqttTransport.layer({ url, clientId: profile.me, will: profile.willFor }),
})
console.log(`READY ${user.service.me}`)
// Stay alive until killed; bounded so a forgotten child ends by itself.
await Effect.runPromise(Effect.sleep("120 seconds"))
await user.stop()
