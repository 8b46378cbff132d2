/**
 * Cleanup for tests that start the local broker (apps/broker) — directly or through a chat run
 * without --broker: it is a detached process that outlives its starter by design, so every test
 * that may have started one stops it in afterAll. SIGTERM first (bounded), then SIGKILL.
 * As a second net the tests give the broker MQTT_CHAT_BROKER_IDLE_EXIT_SECONDS, and it stops by
 * itself when its data directory is removed.
 */
import { brokerStatus, IDLE_EXIT_ENV, stopBroker } from "../../apps/broker/control.ts"

/** For the environment of chats and brokers started by tests: stop after this long without clients. */
export const testBrokerEnv: Readonly<Record<string, string>> = { [IDLE_EXIT_ENV]: "120" }

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
