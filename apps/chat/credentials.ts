/**
 * The chat's login on a broker that checks who connects: from `--credentials FILE` (as
 * `npm run broker:add-user` writes it), or from the environment (`MQTT_USERNAME` or `--username`,
 * with `MQTT_PASSWORD`). Never from a command-line argument: those are visible to every user of
 * the machine (`ps`) and stay in shell histories. Plus the private CA for `mqtts://` (`--ca FILE`).
 *
 * The username is the user id: the broker makes it the client id, and a new profile takes it as
 * its id (`loginIds`). An existing profile with another id is refused at start (`LoginMismatch`).
 */
import * as fs from "node:fs"
import { Effect, Layer, Result, Schema } from "effect"
import { MAX_CREDENTIAL_BYTES } from "../../adapters/broker/password-file.ts"
import { SystemIds } from "../../adapters/system/system.ts"
import { USER_ID_PATTERN, type UserId } from "../../domain/ids.ts"
import { IdSource } from "../../domain/ports/id-source.port.ts"
import { readCredentialsFile } from "../shared/credentials-file.ts"
import type { ChatOptions } from "./options.ts"

export interface Login {
  readonly username: UserId
  readonly password: string
  /** Where it came from, for messages: the file, or "MQTT_USERNAME/MQTT_PASSWORD". */
  readonly source: string
}

export interface BrokerSecrets {
  readonly login: Login | null
  /** PEM of the private CA, for mqtts://. */
  readonly ca: Buffer | null
}

/** A CA bundle is a few kilobytes; a file of megabytes is a mistake. */
const MAX_CA_BYTES = 1024 * 1024

const isUserId = (value: string): value is UserId => USER_ID_PATTERN.test(value)

const loginFromEnvironment = (options: ChatOptions, env: NodeJS.ProcessEnv): Result.Result<Login | null, string> => {
  const password = env.MQTT_PASSWORD !== undefined && env.MQTT_PASSWORD !== "" ? env.MQTT_PASSWORD : null
  const username = options.username
  const named = options.usernameSource === "--username" ? "--username" : "MQTT_USERNAME"
  if (username === null) return password === null ? Result.succeed(null) : Result.fail("MQTT_PASSWORD is set but no username: set MQTT_USERNAME (or --username) too, or use --credentials FILE")
  if (password === null) return Result.fail(`${named} ${username} needs its password in MQTT_PASSWORD (never on the command line), or use --credentials FILE`)
  if (!isUserId(username)) return Result.fail(`${named}: ${JSON.stringify(username.slice(0, 40))} is not a user id (user-NNNNN): the broker makes the username the client id, and the chat's client id is its user id`)
  if (Buffer.byteLength(password) > MAX_CREDENTIAL_BYTES) return Result.fail(`MQTT_PASSWORD is longer than ${MAX_CREDENTIAL_BYTES} bytes`)
  return Result.succeed({ username, password, source: `${named}/MQTT_PASSWORD` })
}

/** The login and CA the options and environment ask for, read and checked; a one-line error otherwise. */
export const loadBrokerSecrets = (options: ChatOptions, env: NodeJS.ProcessEnv): Result.Result<BrokerSecrets, string> => {
  let login: Login | null
  if (options.credentialsFile !== null) {
    const read = readCredentialsFile(options.credentialsFile)
    if (Result.isFailure(read)) return Result.fail(read.failure)
    login = { ...read.success, source: options.credentialsFile }
  } else {
    const fromEnvironment = loginFromEnvironment(options, env)
    if (Result.isFailure(fromEnvironment)) return Result.fail(fromEnvironment.failure)
    login = fromEnvironment.success
  }
  let ca: Buffer | null = null
  if (options.caFile !== null) {
    try {
      const size = fs.statSync(options.caFile).size
      if (size > MAX_CA_BYTES) return Result.fail(`--ca ${options.caFile}: ${size} bytes is not a CA certificate`)
      ca = fs.readFileSync(options.caFile)
    } catch (error) {
      return Result.fail(`--ca ${options.caFile}: ${(error as Error).message}`)
    }
    if (!ca.includes("-----BEGIN CERTIFICATE-----")) return Result.fail(`--ca ${options.caFile}: not a PEM certificate (expected -----BEGIN CERTIFICATE-----)`)
  }
  return Result.succeed({ login, ca })
}

/** The profile's id is not the login's username: the broker would file its session under another user. */
export class LoginMismatch extends Schema.TaggedError<LoginMismatch>()("LoginMismatch", {
  message: Schema.String,
}) {}

/** The system's ids, except that a new profile's user id is the login's username. */
export const loginIds = (username: UserId): Layer.Layer<IdSource> =>
  Layer.effect(
    IdSource,
    Effect.gen(function*() {
      const system = yield* IdSource
      return IdSource.of({ ...system, newUserId: Effect.succeed(username) })
    }),
  ).pipe(Layer.provide(SystemIds.layer))
