/**
 * Cleanup for tests that start the local broker (apps/broker) — directly or through a chat run
 * without --broker: it is a detached process that outlives its starter by design, so every test
 * that may have started one stops it in afterAll. SIGTERM first (bounded), then SIGKILL.
 * As a second net vitest.config.ts gives every test MQTT_CHAT_BROKER_IDLE_EXIT_SECONDS (a broker
 * started under it stops after that long without a client), and a broker stops by itself when its
 * data directory is removed.
 */
import { brokerStatus, stopBroker } from "../../apps/broker/control.ts"

export async function stopLocalBroker(dataDir: string): Promise<void> {
  const outcome = await stopBroker(dataDir, 10_000)
  if (outcome.kind !== "failed") return
  const status = brokerStatus(dataDir)
  const pid = status.kind === "running" ? status.state.pid : status.kind === "starting" ? status.pid : null
  if (pid === null) return
  try {
    process.kill(pid, "SIGKILL")
  } catch {
    // Gone meanwhile.
  }
}
