/**
 * Presence: who is in each room, across processes, by a key the application
 * chooses. The types are here; the in-memory store and the tracker land with it.
 *
 * @module
 */

/** One presence in a room: the application's key (a user, a client session) and its data. */
export interface PresenceEntry<Data = unknown> {
  readonly key: string;
  readonly data: Data;
}

/** A presence appearing, changing its data, or going. */
export interface PresenceChange<Data = unknown> {
  readonly type: "join" | "update" | "leave";
  readonly room: string;
  readonly key: string;
  readonly data: Data;
}

/** Where presences are kept, per process holding them. */
export interface PresenceStore {
  add(room: string, key: string, data: unknown): Promise<"join" | "update" | "same">;
  remove(room: string, key: string): Promise<boolean>;
  list(room: string): Promise<PresenceEntry[]>;
  setExpiredListener(listener: ((change: PresenceChange) => void) | undefined): void;
  close(): Promise<void>;
}
