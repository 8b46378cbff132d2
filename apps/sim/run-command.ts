/** A user's Command through the ChatService's API, as the terminal UI gives it (the world's commands). */
import { Effect } from "effect"
import type { Command } from "../../domain/chat/decide.ts"
import type { ChatService } from "../../domain/service/chat-service.ts"

/** A Command as the service's API takes it; the rejection as its message. */
export const runCommand = (service: ChatService["Service"], command: Command): Effect.Effect<void, string> => {
  const effect = (() => {
    switch (command._tag) {
      case "conversation.request": return service.startConversation(command.peer)
      case "conversation.accept": return service.acceptConversation(command.peer)
      case "conversation.refuse": return service.refuseConversation(command.peer, command.reason)
      case "conversation.leave": return service.leaveConversation(command.peer)
      case "conversation.dismiss": return service.closeConversation(command.peer)
      case "message.send": return Effect.asVoid(service.send(command.target, command.text))
      case "group.create": return service.createGroup(command.group)
      case "group.join": return service.joinGroup(command.group)
      case "group.accept": return service.acceptJoin(command.group, command.user)
      case "group.refuse": return service.refuseJoin(command.group, command.user, command.reason)
      case "group.leave": return service.leaveGroup(command.group)
      case "peer.trust": return service.trustKeys(command.peer)
      case "profile.create":
      case "session.start":
      case "session.end":
      case "conversation.timeout":
        return Effect.die(new Error(`${command._tag} is not a user's command: the world or the service does it`))
    }
  })()
  return effect.pipe(Effect.mapError((rejected) => rejected.message))
}

