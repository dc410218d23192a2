// A lean RFC 6455 client for load generation: raw TCP (Bun.connect on Bun, node:net elsewhere),
// masked outgoing frames (built once and reused), and an inbound parser that reads frame headers
// and skips payloads, counting messages and payload bytes per connection without creating an
// object per frame. Payloads are only copied for control frames and for frames no longer than
// `captureMax` (echo checks, Engine.IO handshakes and pings).
import net from "node:net";

const IS_BUN = typeof globalThis.Bun !== "undefined";
const encoder = new TextEncoder();

export const OP_TEXT = 1;
export const OP_CLOSE = 8;
export const OP_PING = 9;
export const OP_PONG = 10;

const HANDSHAKE = 0;
const OPEN = 1;
const CLOSED = 2;

/** A masked client frame (FIN set). `payload` is a string (UTF-8) or bytes. */
export function clientFrame(opcode, payload) {
  const data = typeof payload === "string" ? encoder.encode(payload) : payload;
  const len = data.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const frame = new Uint8Array(head + 4 + len);
  frame[0] = 0x80 | opcode;
  if (len < 126) {
    frame[1] = 0x80 | len;
  } else if (len < 65536) {
    frame[1] = 0x80 | 126;
    frame[2] = len >>> 8;
    frame[3] = len & 255;
  } else {
    frame[1] = 0x80 | 127;
    new DataView(frame.buffer).setUint32(6, len);
  }
  const mask = crypto.getRandomValues(new Uint8Array(4));
  frame.set(mask, head);
  const off = head + 4;
  for (let i = 0; i < len; i++) frame[off + i] = data[i] ^ mask[i & 3];
  return frame;
}

/** Concatenates frames into one buffer, so a batch is one write. */
export function concat(parts) {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function closeFrame(code) {
  return clientFrame(OP_CLOSE, new Uint8Array([code >>> 8, code & 255]));
}

const bunHandlers = {
  open(s) {
    s.data.tcpOpen(s);
  },
  data(s, chunk) {
    s.data.feed(chunk);
  },
  drain(s) {
    s.data.flush();
  },
  end(s) {
    s.data.tcpEnd();
  },
  close(s) {
    s.data.tcpClosed();
  },
  error(s, error) {
    s.data.tcpError(error);
  },
  connectError(s, error) {
    s.data.tcpError(error);
  },
};

/**
 * One WebSocket client connection. Hooks (all optional, set before `connect`):
 *   onOpen(conn)                              101 received
 *   onMessage(conn, opcode, captured|null, len)  a complete data message (only if set)
 *   onCloseFrame(conn, code)                  the server's close frame
 *   onEnd(conn)                               TCP closed or failed
 */
export class WsConn {
  constructor(index) {
    this.index = index;
    this.state = HANDSHAKE;
    this.sock = null;
    this.queue = null;
    this.hs = null;
    this.msgs = 0;
    this.bytes = 0;
    this.captureMax = 0;
    this.eio = false;
    this.closeCode = 0;
    this.ended = false;
    this.error = null;
    // Parser state.
    this.need = 0;
    this.op = 0;
    this.fin = 0;
    this.len = 0;
    this.cap = null;
    this.capAt = 0;
    this.hdr = new Uint8Array(14);
    this.hdrFill = 0;
    this.onOpen = null;
    this.onMessage = null;
    this.onCloseFrame = null;
    this.onEnd = null;
    /** Called once per chunk read (not per frame): lets a driver count progress cheaply. */
    this.onData = null;
    this.request = "";
  }

  /** Opens TCP and sends the upgrade request for `path`. */
  connect(host, port, path) {
    this.request =
      `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    if (IS_BUN) {
      globalThis.Bun.connect({ hostname: host, port, socket: bunHandlers, data: this }).catch((e) => this.tcpError(e));
    } else {
      const sock = net.connect({ host, port, noDelay: true });
      sock.on("connect", () => this.tcpOpen(sock));
      sock.on("data", (chunk) => this.feed(chunk));
      sock.on("drain", () => this.flush());
      sock.on("end", () => this.tcpEnd());
      sock.on("close", () => this.tcpClosed());
      sock.on("error", (e) => this.tcpError(e));
      this.sock = sock;
    }
  }

  tcpOpen(sock) {
    this.sock = sock;
    if (IS_BUN) sock.setNoDelay?.(true);
    this.write(encoder.encode(this.request));
  }

  /** Writes bytes, queueing what the kernel did not take (Bun writes can be partial). */
  write(buf) {
    if (this.state === CLOSED || !this.sock) return;
    if (!IS_BUN) {
      this.sock.write(buf);
      return;
    }
    if (this.queue) {
      this.queue.push(buf);
      return;
    }
    const n = this.sock.write(buf);
    if (n < buf.length) this.queue = [n > 0 ? buf.subarray(n) : buf];
  }

  flush() {
    const queue = this.queue;
    if (!queue) return;
    this.queue = null;
    for (let i = 0; i < queue.length; i++) {
      const buf = queue[i];
      const n = this.sock.write(buf);
      if (n < buf.length) {
        const rest = queue.slice(i + 1);
        rest.unshift(n > 0 ? buf.subarray(n) : buf);
        this.queue = rest;
        return;
      }
    }
  }

  /** Stops reading from the socket, so the server sees TCP backpressure. */
  pause() {
    this.sock?.pause?.();
  }

  resume() {
    this.sock?.resume?.();
  }

  /** Sends a close frame (the server is expected to answer and close TCP). */
  sendClose(code = 1000) {
    this.write(closeFrame(code));
  }

  /** Closes our side of TCP (FIN). */
  end() {
    if (this.state === CLOSED || !this.sock) return;
    this.sock.end();
  }

  /** Drops the connection now. */
  destroy() {
    if (!this.sock) return;
    if (!IS_BUN) this.sock.destroy();
    else if (typeof this.sock.terminate === "function") this.sock.terminate();
    else this.sock.end();
    this.finish();
  }

  tcpEnd() {
    // The server closed its side: close ours too (no TIME_WAIT on the client: the server went first).
    if (this.sock && this.state !== CLOSED) this.sock.end();
    this.finish();
  }

  tcpClosed() {
    this.finish();
  }

  tcpError(error) {
    this.error ??= error;
    this.finish();
  }

  finish() {
    if (this.ended) return;
    this.ended = true;
    this.state = CLOSED;
    this.onEnd?.(this);
  }

  feed(b) {
    let i = 0;
    if (this.state === HANDSHAKE) {
      i = this.handshake(b);
      if (i < 0) return;
      b = this.hsRest ?? b;
      this.hsRest = null;
    }
    const total = b.length;
    while (i < total) {
      if (this.need > 0) {
        const take = this.need < total - i ? this.need : total - i;
        if (this.cap !== null) {
          this.cap.set(b.subarray(i, i + take), this.capAt);
          this.capAt += take;
        }
        this.need -= take;
        i += take;
        if (this.need === 0) this.frameDone();
        continue;
      }
      if (this.hdrFill === 0 && total - i >= 2) {
        const h0 = b[i];
        let len = b[i + 1] & 127;
        const hl = len < 126 ? 2 : len === 126 ? 4 : 10;
        if (total - i >= hl) {
          if (len === 126) len = (b[i + 2] << 8) | b[i + 3];
          else if (len === 127) len = b[i + 6] * 16777216 + ((b[i + 7] << 16) | (b[i + 8] << 8) | b[i + 9]);
          i += hl;
          this.frameStart(h0, len);
          continue;
        }
      }
      // A header split across reads: gather it byte by byte.
      const hdr = this.hdr;
      hdr[this.hdrFill++] = b[i++];
      if (this.hdrFill < 2) continue;
      let len = hdr[1] & 127;
      const hl = len < 126 ? 2 : len === 126 ? 4 : 10;
      if (this.hdrFill < hl) continue;
      if (len === 126) len = (hdr[2] << 8) | hdr[3];
      else if (len === 127) len = hdr[6] * 16777216 + ((hdr[7] << 16) | (hdr[8] << 8) | hdr[9]);
      this.hdrFill = 0;
      this.frameStart(hdr[0], len);
    }
    if (this.onData !== null) this.onData(this);
  }

  /** Parses the 101 response; returns the offset of the first frame byte, or -1 while incomplete. */
  handshake(b) {
    let buf = b;
    if (this.hs !== null) {
      buf = concat([this.hs, b]);
      this.hs = null;
    }
    for (let i = 3; i < buf.length; i++) {
      if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) {
        // "HTTP/1.1 101"
        if (buf[9] !== 49 || buf[10] !== 48 || buf[11] !== 49) {
          const line = new TextDecoder().decode(buf.subarray(0, Math.min(buf.length, 80))).split("\r\n")[0];
          this.tcpError(new Error(`upgrade refused: ${line}`));
          this.destroy();
          return -1;
        }
        this.state = OPEN;
        this.hsRest = buf === b ? null : buf;
        this.onOpen?.(this);
        return i + 1;
      }
    }
    this.hs = buf.slice();
    return -1;
  }

  frameStart(h0, len) {
    const op = h0 & 15;
    this.op = op;
    this.fin = h0 & 128;
    this.len = len;
    this.need = len;
    if (op >= 8 || len <= this.captureMax) {
      this.cap = new Uint8Array(len);
      this.capAt = 0;
    } else {
      this.cap = null;
    }
    if (len === 0) this.frameDone();
  }

  frameDone() {
    const op = this.op;
    const cap = this.cap;
    this.cap = null;
    if (op < 8) {
      if (this.eio && this.len === 1 && cap !== null && cap[0] === 50) {
        // Engine.IO ping "2": answer "3", not a message.
        this.write(EIO_PONG);
        return;
      }
      this.bytes += this.len;
      if (this.fin === 0) return;
      this.msgs++;
      if (this.onMessage !== null) this.onMessage(this, op, cap, this.len);
      return;
    }
    if (op === OP_PING) {
      this.write(clientFrame(OP_PONG, cap));
    } else if (op === OP_CLOSE) {
      this.closeCode = cap.length >= 2 ? (cap[0] << 8) | cap[1] : 1005;
      this.onCloseFrame?.(this, this.closeCode);
    }
  }
}

const EIO_PONG = clientFrame(OP_TEXT, "3");

const EIO_CONNECT = clientFrame(OP_TEXT, "40");

/**
 * Opens one connection and resolves once it can carry messages (after the 101, and for
 * Engine.IO after the "0" open and "40" connect packets). Rejects on failure or after `timeoutMs`.
 * Shared by the load generators of bench/load and bench/scale-out.
 */
export function openConnection({ index, host, port, path, eio, timeoutMs = 10_000 }) {
  return new Promise((resolve, reject) => {
    const conn = new WsConn(index);
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`connection ${index} not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      conn.onMessage = null;
      conn.onEnd = null;
      conn.captureMax = eio ? 1 : 0;
      resolve(conn);
    };
    conn.onEnd = (c) => {
      clearTimeout(timer);
      reject(c.error ?? new Error(`connection ${index} closed during the handshake`));
    };
    if (eio) {
      conn.eio = true;
      conn.captureMax = 512;
      conn.onMessage = (c, _op, cap) => {
        if (cap === null) return;
        if (cap[0] === 48 && cap[1] === 123) c.write(EIO_CONNECT); // "0{": open -> connect
        else if (cap[0] === 52 && cap[1] === 48) done(); // "40": connected
      };
    } else {
      conn.onOpen = done;
    }
    conn.connect(host, port, path);
  });
}
