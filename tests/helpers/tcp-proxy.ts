/**
 * A TCP proxy on 127.0.0.1 that a test can break: cut every connection (a
 * link loss), refuse service for a while (an outage), go silent without a
 * close (a dead link, as when a laptop leaves the network), or send new
 * connections to another server (a failover behind a virtual IP). Only
 * `node:net`, so it runs unchanged on Node, Bun and Deno.
 */
import { type AddressInfo, connect, createServer, type Socket } from "node:net";

/** A running proxy; clients connect to `port`. */
export interface TcpProxy {
  readonly port: number;
  /** Connections it holds now: proxied ones and ones left hanging by `stall`. */
  readonly connections: number;
  /** New connections go to 127.0.0.1:`port`; current ones stay where they are. */
  retarget(port: number): void;
  /** Destroys every current connection, both sides. */
  cut(): void;
  /** From now on new connections are accepted and destroyed at once; current ones are cut. */
  block(): void;
  /** New connections are proxied again. */
  unblock(): void;
  /**
   * From now on nothing passes, and nothing is closed: current connections
   * stop forwarding both ways, new ones are accepted and left hanging (a
   * dead link). Until `unstall`.
   */
  stall(): void;
  /** New connections are proxied again; the stalled ones stay dead (cut them with `cut`). */
  unstall(): void;
  /** Cuts every connection and stops listening; idempotent. */
  close(): Promise<void>;
}

/** Destroys both sockets of a connection; safe to call more than once. */
function destroyBoth(client: Socket, upstream: Socket): void {
  client.destroy();
  upstream.destroy();
}

/** Starts a proxy on a free 127.0.0.1 port to 127.0.0.1:`targetPort`. */
export function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let target = targetPort;
  let blocked = false;
  let stalled = false;
  /** Every proxied connection, as its two sockets. */
  const open = new Set<[Socket, Socket]>();
  /** Connections accepted while stalled: never proxied, destroyed by `cut`. */
  const hanging = new Set<Socket>();

  const server = createServer((client) => {
    // A reset or a write after the peer left is an expected end of a connection here, not an error.
    client.on("error", () => {});
    if (blocked) {
      client.destroy();
      return;
    }
    if (stalled) {
      client.pause();
      hanging.add(client);
      client.on("close", () => hanging.delete(client));
      return;
    }
    // Nothing is read from the client until the upstream connection is up: then pipe() starts both ways.
    const upstream = connect({ host: "127.0.0.1", port: target });
    upstream.on("error", () => {});
    const pair: [Socket, Socket] = [client, upstream];
    open.add(pair);
    const end = (): void => {
      open.delete(pair);
      destroyBoth(client, upstream);
    };
    // Either side closing (an end, a reset, an unreachable target) closes the other.
    client.on("close", end);
    upstream.on("close", end);
    upstream.once("connect", () => {
      client.pipe(upstream);
      upstream.pipe(client);
    });
  });

  let closed: Promise<void> | undefined;
  const cut = (): void => {
    for (const pair of [...open]) {
      open.delete(pair);
      destroyBoth(...pair);
    }
    for (const client of [...hanging]) client.destroy();
    hanging.clear();
  };

  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      server.on("error", () => {}); // nothing is expected once listening; never an unhandled throw
      resolve({
        port: (server.address() as AddressInfo).port,
        get connections() {
          return open.size + hanging.size;
        },
        retarget(port) {
          target = port;
        },
        cut,
        block() {
          blocked = true;
          cut();
        },
        unblock() {
          blocked = false;
        },
        stall() {
          stalled = true;
          for (const [client, upstream] of open) {
            client.unpipe(upstream);
            upstream.unpipe(client);
            client.pause();
            upstream.pause();
          }
        },
        unstall() {
          stalled = false;
        },
        close() {
          blocked = true;
          cut();
          closed ??= new Promise<void>((done) => server.close(() => done()));
          return closed;
        },
      });
    });
  });
}
