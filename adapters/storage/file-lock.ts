/**
 * The single-writer lock of a profile directory: a file created with `wx` (O_CREAT|O_EXCL) that
 * holds the owner's pid. Two writers on one log would interleave lines and fork the sequence.
 * A lock whose pid is gone (the owner crashed, or was `kill -9`ed) is stale and taken over.
 */
import * as fs from "node:fs"

export type LockOutcome =
  | { readonly kind: "taken"; readonly staleOwner: number | undefined }
  | { readonly kind: "held"; readonly owner: number | undefined }

const TAKE_ATTEMPTS = 3
/** A lock with no readable pid younger than this may be a writer between create and write. */
const UNREADABLE_LOCK_GRACE_MS = 5_000

/** `kill(pid, 0)` checks existence without sending anything; EPERM means it exists but is not ours. */
export const isProcessAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

const errorCode = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | undefined)?.code

type Holder =
  | { readonly kind: "gone" }
  | { readonly kind: "pid"; readonly pid: number }
  | { readonly kind: "unreadable"; readonly ageMs: number }

const readHolder = (lockPath: string): Holder => {
  try {
    const text = fs.readFileSync(lockPath, { encoding: "utf8", flag: "r" }).slice(0, 32).trim()
    const pid = Number(text)
    if (/^[0-9]{1,10}$/.test(text) && Number.isSafeInteger(pid) && pid > 0) return { kind: "pid", pid }
    return { kind: "unreadable", ageMs: Date.now() - fs.statSync(lockPath).mtimeMs }
  } catch (error) {
    if (errorCode(error) === "ENOENT") return { kind: "gone" }
    throw error
  }
}

/** The directory is not fsynced after this: a lock that does not survive a power cut is stale anyway. */
const createLock = (lockPath: string, pid: number): boolean => {
  let fd: number
  try {
    fd = fs.openSync(lockPath, "wx", 0o600)
  } catch (error) {
    if (errorCode(error) === "EEXIST") return false
    throw error
  }
  try {
    fs.writeSync(fd, `${pid}\n`)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  return true
}

/**
 * Takes the lock for `pid`, or reports who holds it. Throws only on I/O errors. Two processes that
 * find the same stale lock at the same instant can race; a chat profile is opened by hand, so the
 * window is accepted rather than adding a second lock protocol.
 */
export const takeLock = (lockPath: string, pid: number = process.pid): LockOutcome => {
  let staleOwner: number | undefined
  for (let attempt = 0; attempt < TAKE_ATTEMPTS; attempt++) {
    if (createLock(lockPath, pid)) return { kind: "taken", staleOwner }
    const holder = readHolder(lockPath)
    if (holder.kind === "pid") {
      if (isProcessAlive(holder.pid)) return { kind: "held", owner: holder.pid }
      staleOwner = holder.pid
    } else if (holder.kind === "unreadable" && holder.ageMs < UNREADABLE_LOCK_GRACE_MS) {
      return { kind: "held", owner: undefined }
    }
    if (holder.kind !== "gone") removeIfPresent(lockPath)
  }
  return { kind: "held", owner: undefined }
}

/** Removes the lock if it is still ours (a takeover by someone else must not be undone). */
export const releaseLock = (lockPath: string, pid: number = process.pid): void => {
  const holder = readHolder(lockPath)
  if (holder.kind === "pid" && holder.pid === pid) removeIfPresent(lockPath)
}

const removeIfPresent = (path: string): void => {
  try {
    fs.unlinkSync(path)
  } catch (error) {
    if (errorCode(error) !== "ENOENT") throw error
  }
}
