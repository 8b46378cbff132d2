import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: broker tests start real processes; keep the file-level parallelism modest.
    maxWorkers: 2,
    // A safety net for the local broker (apps/broker), a detached process by design: one that a
    // test started and failed to stop ends by itself after five minutes without a client.
    env: { MQTT_CHAT_BROKER_IDLE_EXIT_SECONDS: "300" },
  },
})
