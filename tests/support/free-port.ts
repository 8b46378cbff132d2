/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it; a race with others is possible but rare). */
import * as net from "node:net"

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => {
        if (address === null || typeof address === "string") reject(new Error("no TCP address"))
        else resolve(address.port)
      })
    })
  })
}

/** Resolves true once something accepts TCP connections on 127.0.0.1:port, false at the deadline. */
export async function waitForPort(port: number, timeoutMs: number, isAlive: () => boolean = () => true): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline && isAlive()) {
    if (await accepts(port)) return true
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return false
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" })
    socket.setTimeout(500)
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
    socket.once("timeout", () => done(false))
  })
}
