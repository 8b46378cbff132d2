/** How the broker process ends, and how it says why it could not start (read by `start`). */
export const EXIT_STOPPED = 0
export const EXIT_FAILED = 1
/** Another broker runs (or is starting) for this data directory. */
export const EXIT_ALREADY_RUNNING = 3
/** The prefix of the one line a failed start writes to stderr (broker.log when detached). */
export const FAILURE_PREFIX = "mqtt-chat-broker: "
