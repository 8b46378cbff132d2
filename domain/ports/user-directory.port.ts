/**
 * Which user ids are already in use: a new profile draws its id until it finds a free one. The
 * MQTT adapter answers from the retained presence topics (every user that ever connected left one);
 * the in-memory broker from its retained store.
 */
import { Context, Schema } from "effect"
import type { Effect } from "effect"
import type { UserId } from "../ids.ts"

export class UserDirectoryError extends Schema.TaggedError<UserDirectoryError>()("UserDirectoryError", {
  message: Schema.String,
}) {}

export class UserDirectory extends Context.Service<UserDirectory, {
  isTaken(user: UserId): Effect.Effect<boolean, UserDirectoryError>
}>()("mqtt-chat/domain/ports/UserDirectory") {}
