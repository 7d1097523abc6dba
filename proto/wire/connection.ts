/**
 * The client end of a data-plane connection to a segment store (used by the client SDK and the
 * controller). One TCP connection carries many requests at once; replies are matched to requests
 * by requestId, and frames that answer no pending request (DataAppended, append errors) go to
 * subscribers.
 */
import net from "node:net";
import { assert, systemClock, type Clock, type TimerHandle, ConnectionClosedError, MalformedFrameError, OverloadedError, TimeoutError, UnavailableError, UnsupportedVersionError, toSluiceError, type SluiceError, connectionRequestsMax } from "../../common/index.js";
import { FrameWriter } from "./frame-writer.js";
import { FrameDecoder } from "./decoder.js";
import { errorFromFrame, isFrameOf, protocolVersion, type Frame, type FrameOf, type RequestFrame } from "./frames.js";

export interface ConnectOptions {
  /** Deadline for the TCP connect and the server's Hello together. */
  connectTimeoutMs: number;
  /** Source of the connect and request timers; the system clock unless a test injects one. */
  clock?: Clock;
}

/** How long close() lets the peer finish the TCP close before the socket is destroyed. */
const closeGraceMs = 1_000;

interface PendingRequest {
  /** Resolves or rejects the caller's promise with the reply. */
  settle(reply: Frame): void;
  reject(err: SluiceError): void;
  timer: TimerHandle;
}

interface Handshake {
  resolve(): void;
  reject(err: SluiceError): void;
  timer: TimerHandle;
}

interface DrainWaiter {
  resolve(): void;
  reject(err: SluiceError): void;
}

export class WireConnection {
  private readonly decoder: FrameDecoder;
  private readonly pending = new Map<number, PendingRequest>();
  private readonly listeners = new Set<(frame: Frame) => void>();
  private readonly closeListeners = new Set<(err: SluiceError) => void>();
  private drainWaiters: DrainWaiter[] = [];
  private handshake: Handshake | null = null;
  /** Why the connection closed; null while it is open. */
  private closeReason: SluiceError | null = null;
  /** What pending and later calls are rejected with once closed. */
  private closedError: ConnectionClosedError | null = null;
  /** The socket's own error, the cause of the 'close' that follows it. */
  private socketError: Error | null = null;
  /** The last connection-level Error frame (requestId 0), sent by a server before it closes. */
  private peerError: SluiceError | null = null;
  private requestIdLast = 0;
  /** Pipelined requests of one tick leave in one writev. */
  private readonly writer: FrameWriter;
  private graceTimer: TimerHandle | null = null;
  private readonly closedPromise: Promise<void>;
  private resolveClosed: () => void = () => undefined;

  private constructor(
    private readonly socket: net.Socket,
    private readonly clock: Clock,
    /** `host:port`, for messages. */
    readonly address: string,
  ) {
    this.closedPromise = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.decoder = new FrameDecoder((frame) => this.handleFrame(frame));
    this.writer = new FrameWriter(socket);
    socket.on("data", (chunk: Buffer) => this.handleData(chunk));
    socket.on("drain", () => this.handleDrain());
    socket.on("error", (err) => {
      this.socketError = err;
    });
    socket.on("close", () => this.handleSocketClose());
  }

  /**
   * Connects and exchanges Hello. Rejects with the server's typed error if it answers Error, with
   * UnsupportedVersionError if its version range excludes ours, with TimeoutError after
   * `connectTimeoutMs`, and with UnavailableError (cause set) if the TCP connection fails or closes
   * during the handshake.
   */
  static connect(host: string, port: number, opts: ConnectOptions): Promise<WireConnection> {
    return new Promise((resolve, reject) => {
      assert(Number.isFinite(opts.connectTimeoutMs) && opts.connectTimeoutMs > 0, "connectTimeoutMs must be positive");
      const clock = opts.clock ?? systemClock;
      const socket = net.connect({ host, port, noDelay: true });
      const conn = new WireConnection(socket, clock, `${host}:${port}`);
      conn.handshake = {
        resolve: () => resolve(conn),
        reject,
        timer: clock.setTimer(opts.connectTimeoutMs, () => {
          conn.shutdown(new TimeoutError(`no Hello from ${conn.address} within ${opts.connectTimeoutMs} ms`), false);
        }),
      };
      conn.send({ type: "Hello", highVersion: protocolVersion, lowVersion: protocolVersion });
    });
  }

  get closed(): boolean {
    return this.closeReason !== null;
  }

  /** A request id unique among this connection's requests in flight: wraps within u32, never 0. */
  nextRequestId(): number {
    // Bounded: at most connectionRequestsMax ids are pending, so a free one is found quickly.
    do {
      this.requestIdLast = this.requestIdLast >= 0xffff_ffff ? 1 : this.requestIdLast + 1;
    } while (this.pending.has(this.requestIdLast));
    return this.requestIdLast;
  }

  /**
   * Sends `frame` and resolves with the reply of type `expect` carrying the same requestId.
   * Rejects with the typed error of an Error reply, MalformedFrameError for a reply of another
   * type, TimeoutError after `timeoutMs` (a later reply then goes to subscribers),
   * ConnectionClosedError if the connection closes first, and OverloadedError at once when
   * connectionRequestsMax requests are already pending.
   */
  request<T extends Frame["type"]>(frame: RequestFrame, expect: T, timeoutMs: number): Promise<FrameOf<T>> {
    return new Promise<FrameOf<T>>((resolve, reject) => {
      assert(Number.isFinite(timeoutMs) && timeoutMs >= 0, "timeoutMs must be finite and not negative");
      if (this.closedError !== null) return reject(this.closedError);
      if (this.pending.size >= connectionRequestsMax) {
        return reject(new OverloadedError(`${connectionRequestsMax} requests already pending on ${this.address}`));
      }
      const requestId = frame.requestId;
      assert(!this.pending.has(requestId), `request id ${requestId} already in flight`);
      // Sent before it is registered: replies only arrive from a later socket event, and a frame
      // that fails to encode then leaves nothing behind.
      this.send(frame);
      const entry: PendingRequest = {
        settle: (reply) => {
          if (isFrameOf(reply, expect)) resolve(reply);
          else if (reply.type === "Error") reject(errorFromFrame(reply));
          else reject(new MalformedFrameError(`${frame.type} request ${requestId}: expected ${expect}, got ${reply.type}`));
        },
        reject,
        timer: this.clock.setTimer(timeoutMs, () => {
          if (this.pending.get(requestId) !== entry) return;
          this.pending.delete(requestId);
          reject(new TimeoutError(`${frame.type} request ${requestId} to ${this.address} timed out after ${timeoutMs} ms`));
        }),
      };
      this.pending.set(requestId, entry);
    });
  }

  /**
   * Writes `frame` without waiting for a reply. Returns false when the socket's buffer is above
   * its high-water mark: the caller should wait on drained() before sending more. Throws
   * ConnectionClosedError once the connection is closed.
   */
  send(frame: Frame): boolean {
    if (this.closedError !== null) throw this.closedError;
    return this.writer.write(frame);
  }

  /** Resolves once the socket's write buffer has drained (at once if it is not congested). */
  drained(): Promise<void> {
    if (this.closedError !== null) return Promise.reject(this.closedError);
    if (!this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.drainWaiters.push({ resolve, reject });
    });
  }

  /**
   * Frames that answer no pending request go to every listener, in arrival order. A listener must
   * not throw: a throw closes the connection with an INTERNAL error. Returns the unsubscribe.
   */
  subscribe(listener: (frame: Frame) => void): () => void {
    const own = (frame: Frame): void => listener(frame);
    this.listeners.add(own);
    return () => {
      this.listeners.delete(own);
    };
  }

  /**
   * Calls `listener` once with the reason when the connection closes (on a microtask if it is
   * already closed). A listener must not throw. Returns the removal.
   */
  onClose(listener: (err: SluiceError) => void): () => void {
    const own = (err: SluiceError): void => listener(err);
    this.closeListeners.add(own);
    const reason = this.closeReason;
    if (reason !== null) {
      queueMicrotask(() => {
        if (this.closeListeners.delete(own)) own(reason);
      });
    }
    return () => {
      this.closeListeners.delete(own);
    };
  }

  /** Ends the connection; pending requests fail with ConnectionClosedError. Idempotent. */
  close(): Promise<void> {
    this.shutdown(new ConnectionClosedError(`connection to ${this.address} closed locally`), true);
    return this.closedPromise;
  }

  private handleData(chunk: Buffer): void {
    // Bytes still in flight after we began to close belong to nobody.
    if (this.closeReason !== null) return;
    try {
      this.decoder.push(chunk);
    } catch (err) {
      this.shutdown(toSluiceError(err), false);
    }
  }

  private handleFrame(frame: Frame): void {
    if (this.closeReason !== null) return;
    const handshake = this.handshake;
    if (handshake !== null) {
      if (frame.type === "Hello") {
        if (frame.lowVersion > protocolVersion || frame.highVersion < protocolVersion) {
          const range = `[${frame.lowVersion}, ${frame.highVersion}]`;
          this.shutdown(new UnsupportedVersionError(`${this.address} speaks versions ${range}, not ${protocolVersion}`), false);
          return;
        }
        this.handshake = null;
        handshake.timer.cancel();
        handshake.resolve();
      } else if (frame.type === "Error") {
        this.shutdown(errorFromFrame(frame), false);
      } else {
        this.shutdown(new MalformedFrameError(`${this.address} sent ${frame.type} before Hello`), false);
      }
      return;
    }
    if (frame.type === "KeepAlive") return;
    if ("requestId" in frame) {
      if (frame.type === "Error" && frame.requestId === 0) this.peerError = errorFromFrame(frame);
      const entry = this.pending.get(frame.requestId);
      if (entry !== undefined) {
        this.pending.delete(frame.requestId);
        entry.timer.cancel();
        entry.settle(frame);
        return;
      }
    }
    for (const listener of this.listeners) listener(frame);
  }

  private handleDrain(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  private handleSocketClose(): void {
    this.graceTimer?.cancel();
    this.graceTimer = null;
    const cause = this.socketError ?? this.peerError ?? undefined;
    const detail = cause === undefined ? "" : `: ${cause.message}`;
    if (this.handshake !== null) {
      this.shutdown(new UnavailableError(`cannot connect to ${this.address}${detail}`, { cause }), false);
    } else {
      this.shutdown(new ConnectionClosedError(`connection to ${this.address} closed by peer${detail}`, { cause }), false);
    }
    this.resolveClosed();
  }

  /** Closes with `reason` (the first reason wins) and fails everything waiting. */
  private shutdown(reason: SluiceError, graceful: boolean): void {
    if (this.closeReason !== null) return;
    this.closeReason = reason;
    const closedError =
      reason instanceof ConnectionClosedError
        ? reason
        : new ConnectionClosedError(`connection to ${this.address} closed: ${reason.message}`, { cause: reason });
    this.closedError = closedError;

    const handshake = this.handshake;
    this.handshake = null;
    if (handshake !== null) {
      handshake.timer.cancel();
      handshake.reject(reason);
    }
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const entry of pending) {
      entry.timer.cancel();
      entry.reject(closedError);
    }
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const waiter of waiters) waiter.reject(closedError);

    if (graceful && !this.socket.destroyed) {
      // end() lets queued writes flush and the peer close its side; the timer bounds the wait.
      this.socket.end();
      this.graceTimer = this.clock.setTimer(closeGraceMs, () => this.socket.destroy());
    } else {
      this.socket.destroy();
    }

    const listeners = [...this.closeListeners];
    this.closeListeners.clear();
    for (const listener of listeners) listener(reason);
  }
}
