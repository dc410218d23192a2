import type { AcceptedUpgrade, Transport, TransportEvents } from "../../adapter/mod.ts";
import { CloseCode } from "../../adapter/mod.ts";
import type { DenoWebSocket } from "./types.ts";

/**
 * A Deno WebSocket as the core sees it. It is also the socket's one event
 * listener (`handleEvent`), so a connection costs no closures.
 *
 * Deno has no ping/pong API and no terminate: the adapter leaves the
 * heartbeat to Deno's `idleTimeout`, and the core forgets a socket that does
 * not finish its closing handshake in time.
 */
export class DenoTransport implements Transport {
  readonly #socket: DenoWebSocket;
  /** What opening needs; dropped once open, so the upgrade is not kept alive with the socket. */
  #pending: AcceptedUpgrade<unknown> | undefined;
  #events: TransportEvents | undefined;
  /** Deno reports protocol errors as an error event, then a close with code 0. */
  #errorCode: number = CloseCode.Abnormal;

  constructor(socket: DenoWebSocket, upgrade: AcceptedUpgrade<unknown>) {
    this.#socket = socket;
    this.#pending = upgrade;
    socket.binaryType = "arraybuffer";
    for (const type of ["open", "message", "error", "close"]) socket.addEventListener(type, this);
  }

  get readyState(): number {
    return this.#socket.readyState;
  }

  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  sendText(text: string): boolean {
    this.#socket.send(text);
    return true;
  }

  sendBinary(data: Uint8Array): boolean {
    this.#socket.send(data);
    return true;
  }

  close(code: number, reason: string): void {
    this.#socket.close(code, reason);
  }

  handleEvent(event: Event): void {
    switch (event.type) {
      case "message": {
        const data = (event as MessageEvent).data;
        if (typeof data === "string") this.#events?.receiveText(data);
        else this.#events?.receiveBinary(new Uint8Array(data as ArrayBuffer));
        break;
      }
      case "open":
        // Deno keeps every listener record for the socket's life: drop the one that is done.
        this.#socket.removeEventListener("open", this);
        this.#pending?.open(this, (events) => (this.#events = events));
        this.#pending = undefined;
        break;
      case "error": {
        const message = (event as ErrorEvent).message ?? "";
        // Deno's idle timeout (the heartbeat on Deno) gave up on the peer; it then closes with
        // 1001. Report it as the core's heartbeat does on Bun and Node: 1006 "Heartbeat timeout".
        if (message.startsWith("No response from ping frame")) this.#events?.heartbeatTimedOut();
        else this.#errorCode = errorCloseCode(message);
        break;
      }
      case "close": {
        const { code, reason } = event as CloseEvent;
        // Code 0 means Deno dropped the connection without a close frame.
        this.#events?.transportClosed(code === 0 ? this.#errorCode : code, reason);
        // Deno keeps a socket that ended without a close frame until its idle timer fires (up to
        // idleTimeout/2, that is pingInterval, later: it never cancels that timer on this path).
        // Letting go of the listeners and the events lets go of the connection meanwhile; what is
        // left is Deno's own (bench/probes/deno-dropped-sockets.ts: 5.2 KB of heap held per such
        // socket before, 4.6 KB after, of which about 3.9 KB raw Deno holds too).
        for (const type of ["message", "error", "close"]) this.#socket.removeEventListener(type, this);
        this.#events = undefined;
        break;
      }
    }
  }
}

/** The RFC close code for the reason Deno gave in an error event before closing with 0. */
function errorCloseCode(message: string): number {
  if (message.includes("UTF-8")) return CloseCode.InvalidPayload;
  // "Ping frame too large" is a protocol error, not a message over the size limit.
  if (message.includes("too large") && !message.startsWith("Ping")) return CloseCode.MessageTooBig;
  // Frame-level protocol errors as Deno 2.9.6 words them: "Invalid value" (opcode), "Invalid
  // fragment", "Invalid continuation frame", "Invalid close frame/code", "Reserved bits are not
  // zero", "Control frame must not be fragmented", "Ping frame too large". Not "Unexpected EOF".
  if (/^Invalid |Reserved bits|must not be fragmented|^Ping frame too large/.test(message)) return CloseCode.ProtocolError;
  return CloseCode.Abnormal;
}
