/**
 * The client's diagnostics file (PROFILE_DIR/chat.log): dropped messages, errors, connection
 * changes, the log's recovery report. Never on screen — the UI owns the terminal.
 *
 * Bounded twice: lines wait in memory up to MAX_PENDING_BYTES (more are counted and skipped, a
 * flood must not eat memory), and the file is rotated to chat.log.1 past `maxBytes`, so at most
 * two files of that size exist.
 */
import * as fs from "node:fs"

export const DEFAULT_MAX_LOG_BYTES = 5 * 1024 * 1024
const MAX_PENDING_BYTES = 1024 * 1024
const FLUSH_AFTER_MS = 200
const MAX_LINE_CHARS = 2000

export class DiagnosticsLog {
  private pending: string[] = []
  private pendingBytes = 0
  private skipped = 0
  private size: number
  private timer: NodeJS.Timeout | null = null
  private closed = false

  constructor(
    readonly file: string,
    private readonly maxBytes: number = DEFAULT_MAX_LOG_BYTES,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.size = fileSize(file)
  }

  write(line: string): void {
    if (this.closed) return
    // One line per entry: a newline inside would forge another entry.
    const text = `${this.now().toISOString()} ${line.replace(/[\r\n]+/g, " ⏎ ").slice(0, MAX_LINE_CHARS)}\n`
    const bytes = Buffer.byteLength(text)
    if (this.pendingBytes + bytes > MAX_PENDING_BYTES) {
      this.skipped += 1
      return
    }
    this.pending.push(text)
    this.pendingBytes += bytes
    this.timer ??= setTimeout(() => {
      this.timer = null
      this.flush()
    }, FLUSH_AFTER_MS)
  }

  /** Writes what waits. Synchronous: it is small, and close() must not lose the last lines. */
  flush(): void {
    if (this.skipped > 0) {
      const note = `${this.now().toISOString()} (${this.skipped} diagnostic lines skipped: too many at once)\n`
      this.pending.push(note)
      this.skipped = 0
    }
    if (this.pending.length === 0) return
    const text = this.pending.join("")
    this.pending = []
    this.pendingBytes = 0
    try {
      if (this.size + Buffer.byteLength(text) > this.maxBytes) this.rotate()
      fs.appendFileSync(this.file, text, { mode: 0o600 })
      this.size += Buffer.byteLength(text)
    } catch {
      // Nowhere else to report it without drawing over the UI; diagnostics are best effort.
    }
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    this.flush()
    this.closed = true
  }

  private rotate(): void {
    try {
      fs.renameSync(this.file, `${this.file}.1`)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error
    }
    this.size = 0
  }
}

const fileSize = (file: string): number => {
  try {
    return fs.statSync(file).size
  } catch {
    return 0
  }
}
