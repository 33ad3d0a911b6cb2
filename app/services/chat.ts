/**
 * Chat state and message shapes shared by the chat controller, the text-port renderer and the
 * close hook. Standalone, users live in this process; the cluster layer moves them to Redis.
 */

/** The room everyone starts in (telnet users stay in it). */
export const LOBBY = 'lobby'

/** A chat user as other clients see it. */
export interface ChatUser {
  uid: string
  name: string
}

/** Pushes the chat sends; JSON clients receive these objects, telnet clients a rendered line. */
export type ChatEvent =
  | { type: 'join', uid: string, name: string, room: string }
  | { type: 'leave', uid: string, name: string, room: string }
  | { type: 'say', from: ChatUser, text: string, room?: string, private?: boolean }

let lastUid = 0
const users = new Map<string, ChatUser>()

/** A new numeric uid (as a string). */
export function nextUid (): string {
  return String(++lastUid)
}

/** Remembers a signed-in user. */
export function addUser (user: ChatUser): void {
  users.set(user.uid, user)
}

/** Forgets a user when their connection closes. */
export function removeUser (uid: string): void {
  users.delete(uid)
}

/** Name of an online uid. */
export function userName (uid: string): string | undefined {
  return users.get(uid)?.name
}

/** Renders a chat event as one telnet line (the text port's `render`). */
export function renderLine (data: unknown): string {
  if (typeof data === 'string') return data
  const ev = data as ChatEvent
  switch (ev?.type) {
    case 'join': return `${ev.name}(${ev.uid}) joined ${ev.room}`
    case 'leave': return `${ev.name}(${ev.uid}) left`
    case 'say': return `${ev.from.name}(${ev.from.uid}) says${ev.private ? ' to you' : ''}: ${ev.text}`
    default: return JSON.stringify(data) ?? ''
  }
}
