/** The public state of a connection, as the summary reads it. */
interface Summarised {
  readonly id: string;
  readonly remoteAddress: string;
  readonly protocol: string;
  readonly readyState: number;
  readonly rooms: ReadonlySet<string>;
  readonly userData: unknown;
}

/**
 * What `console.log(conn)` and `JSON.stringify(conn)` show of a connection:
 * its public state, never the engine, its history or the other connections.
 * Named `Connection` so that inspection prints that name on every runtime.
 */
export class Connection {
  readonly id: string;
  readonly remoteAddress: string;
  readonly protocol: string;
  readonly readyState: number;
  readonly rooms: string[];
  readonly userData: unknown;

  constructor(connection: Summarised) {
    this.id = connection.id;
    this.remoteAddress = connection.remoteAddress;
    this.protocol = connection.protocol;
    this.readyState = connection.readyState;
    this.rooms = [...connection.rooms];
    this.userData = connection.userData;
  }
}
