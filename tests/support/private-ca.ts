/**
 * A private certificate authority made by openssl for one test run: a CA certificate, and a
 * server certificate it signed for 127.0.0.1 (subjectAltName IP). Nothing here is trusted by
 * the system, so a client that is not given `ca.crt` must refuse the server.
 */
import { execFile, spawnSync } from "node:child_process"
import { writeFile } from "node:fs/promises"
import { join } from "node:path"
import { promisify } from "node:util"

const run = promisify(execFile)

export interface PrivateCa {
  readonly caFile: string
  readonly certFile: string
  readonly keyFile: string
}

export const opensslAvailable = (): boolean => spawnSync("openssl", ["version"]).status === 0

const openssl = (args: ReadonlyArray<string>, cwd: string) => run("openssl", [...args], { cwd, timeout: 20_000 })

/** Writes ca.key, ca.crt, server.key, server.crt (valid two days) into `dir`. */
export async function makePrivateCa(dir: string, commonName = "mqtt-chat test CA"): Promise<PrivateCa> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
  await openssl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", `/CN=${commonName}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir)
  await openssl(["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"], dir)
  await writeFile(join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
  await openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext"], dir)
  return { caFile: join(dir, "ca.crt"), certFile: join(dir, "server.crt"), keyFile: join(dir, "server.key") }
}
