/**
 * Where the broker is and how to reach it: the URL as the user gives it, a fresh socket per
 * connection attempt (TCP with TCP_NODELAY, or TLS checked against a private CA or the system's),
 * and errors described in one line.
 */
import * as net from "node:net"
import * as tls from "node:tls"

export interface BrokerAddress {
  readonly host: string
  readonly port: number
  readonly tls: boolean
}

export const parseBrokerUrl = (url: string): BrokerAddress | undefined => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return undefined
  }
  const secure = parsed.protocol === "mqtts:"
  if (parsed.protocol !== "mqtt:" && parsed.protocol !== "tcp:" && !secure) return undefined
  const port = parsed.port === "" ? (secure ? 8883 : 1883) : Number(parsed.port)
  if (!Number.isInteger(port) || port <= 0 || port > 65535 || parsed.hostname === "") return undefined
  // `new URL` keeps IPv6 literals in brackets; net.connect wants them bare.
  return { host: parsed.hostname.replace(/^\[(.*)\]$/, "$1"), port, tls: secure }
}

/** OpenSSL's and Node's codes for a certificate that does not verify: a retry cannot fix them. */
export const isCertificateError = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === "string" && /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS_CERT|ERR_SSL/.test(code)
}

/**
 * A fresh socket per connection attempt. MQTT.js ignores stream errors other than a few socket
 * codes (a failed certificate check would look like silence), so TLS errors go to `onTlsError`.
 */
export const socketTo = (address: BrokerAddress, ca?: string | Buffer, onTlsError?: (error: Error) => void) => (): net.Socket => {
  if (!address.tls) {
    const socket = net.createConnection({ host: address.host, port: address.port, noDelay: true })
    socket.setNoDelay(true)
    return socket
  }
  const socket = tls.connect({
    host: address.host,
    port: address.port,
    // SNI takes host names only; an IP address is checked against the certificate's IP entries.
    ...(net.isIP(address.host) === 0 ? { servername: address.host } : {}),
    ...(ca === undefined ? {} : { ca }),
  })
  socket.setNoDelay(true)
  if (onTlsError !== undefined) socket.on("error", onTlsError)
  return socket
}

export const describeError = (error: unknown): string => {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return typeof code === "string" && !error.message.includes(code) ? `${error.message} (${code})` : error.message
  }
  return String(error)
}

/** Zero-copy view: MQTT.js writes Buffers, the port speaks Uint8Array. */
export const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
