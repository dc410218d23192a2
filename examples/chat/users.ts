/**
 * Who is who in the chat: user ids from session ids, guest names, and the
 * user lists that presence gives.
 *
 * @module
 */
import type { PresenceEntry } from "../../mod.ts";
import { type RoomUser, usernameOf } from "./protocol.ts";

const encoder = new TextEncoder();

/**
 * The user id of a page's session id: 22 characters of base64url of its
 * SHA-256. User ids are shown to everyone in the room; session ids are not,
 * so that nobody can reconnect as someone else from what they see.
 */
export async function sessionUserId(session: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(`switchboard-chat:${session}`)));
  let binary = "";
  for (const byte of digest.subarray(0, 16)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const GUEST_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"; // no 0/O or 1/I

function randomCode(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(bytes, (byte) => GUEST_ALPHABET[byte % GUEST_ALPHABET.length]).join("");
}

/** `Guest-` and 4 random characters, free among `users`. */
export function guestName(users: readonly PresenceEntry[]): string {
  for (;;) {
    const name = `Guest-${randomCode(4)}`;
    if (!isTaken(users, name, undefined)) return name;
  }
}

/** Whether a user other than `userId` has this name (ignoring case). */
export function isTaken(users: readonly PresenceEntry[], username: string, userId: string | undefined): boolean {
  const wanted = username.toLowerCase();
  return users.some((user) => user.key !== userId && usernameOf(user.data)?.toLowerCase() === wanted);
}

/** A room's presences as the page's user list. */
export function roomUsers(users: readonly PresenceEntry[]): RoomUser[] {
  const list: RoomUser[] = [];
  for (const { key, data } of users) {
    const username = usernameOf(data);
    if (username !== undefined) list.push({ userId: key, username });
  }
  return list;
}
