/**
 * Who may hold a connection to a data-plane server (the segment store's front end and the log
 * node's): a global cap and a per-peer cap (connections from one remote address), counted from
 * accept to close, and the idle timeout the connections apply (connection-handler.ts).
 *
 * A connection over a cap is refused with a typed answer, not a silent close: the server writes an
 * Error frame (requestId 0, TOO_MANY_CONNECTIONS, naming the cap and its flag) and ends its side; the
 * client's handshake then fails at once with that error instead of "cannot connect" after its
 * retries. The refused socket is read (and the bytes dropped) until the peer closes, so the frame is
 * not lost to a reset, and is cut after connectionRefusalGraceMs; at most connectionsRefusingMax
 * refused sockets wait like that, past which they are cut without a frame.
 *
 * Refusals and idle closes are logged at WARN / INFO, at most once per
 * connectionRefusalLogIntervalMs, each line with the count since the previous one: a flood of
 * connections cannot flood the log.
 */
import type { Socket } from "node:net";
import {
  connectionRefusalGraceMs,
  connectionRefusalLogIntervalMs,
  connectionsRefusingMax,
  InvalidConfigError,
  logger,
  TooManyConnectionsError,
  type Clock,
  type SluiceError,
  type TimerHandle,
} from "../../common/index.js";
import { encodeFrame, errorFrame } from "../../proto/index.js";

const log = logger("connections");

export interface ConnectionLimits {
  /** Connections open at once (--connections-max). */
  connectionsMax: number;
  /** Connections open at once from one remote address (--connections-per-peer-max). */
  connectionsPerPeerMax: number;
  /** A connection idle this long is closed (--idle-timeout-ms); 0: never. */
  idleTimeoutMs: number;
}

/** The remote address a socket is counted under: IPv4-mapped IPv6 addresses as plain IPv4. */
export function peerOf(socket: Socket): string {
  const address = socket.remoteAddress ?? "unknown";
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}

/** Writes `err` as a connection-level Error frame (requestId 0); nothing if the socket is gone. */
export function writeConnectionError(socket: Socket, err: SluiceError): void {
  if (socket.destroyed || socket.writableEnded) return;
  const pieces = encodeFrame(errorFrame(0, err));
  socket.cork();
  for (const p of pieces) socket.write(p);
  socket.uncork();
}

/** Logs one kind of event at most once per interval, with the count since the last line. */
class RateLimitedLog {
  private lastMs = -Infinity;
  private since = 0;

  constructor(
    private readonly clock: Clock,
    private readonly level: "warn" | "info",
    private readonly message: string,
  ) {}

  note(fields: Record<string, unknown>): void {
    this.since++;
    const now = this.clock.monotonicMs();
    if (now - this.lastMs < connectionRefusalLogIntervalMs) return;
    log[this.level](this.message, { ...fields, count: this.since, sinceMs: Number.isFinite(this.lastMs) ? Math.round(now - this.lastMs) : 0 });
    this.lastMs = now;
    this.since = 0;
  }
}

export class ConnectionAdmission {
  readonly limits: ConnectionLimits;
  private readonly perPeer = new Map<string, number>();
  private open = 0;
  private readonly refusing = new Set<Socket>();
  private readonly refusals: RateLimitedLog;
  private readonly idleCloses: RateLimitedLog;
  /** Refusals since start, for tests and metrics. */
  refusedTotal = 0;

  /** `server` names the server in messages ("segment store", "log node"). Raises INVALID_CONFIG for limits out of range. */
  constructor(
    private readonly server: string,
    limits: ConnectionLimits,
    private readonly clock: Clock,
  ) {
    if (!(Number.isSafeInteger(limits.connectionsMax) && limits.connectionsMax >= 1)) throw new InvalidConfigError(`--connections-max ${limits.connectionsMax}: must be an integer of at least 1`);
    if (!(Number.isSafeInteger(limits.connectionsPerPeerMax) && limits.connectionsPerPeerMax >= 1 && limits.connectionsPerPeerMax <= limits.connectionsMax)) {
      throw new InvalidConfigError(`--connections-per-peer-max ${limits.connectionsPerPeerMax}: must be an integer in [1, --connections-max ${limits.connectionsMax}]`);
    }
    if (!(Number.isSafeInteger(limits.idleTimeoutMs) && limits.idleTimeoutMs >= 0)) throw new InvalidConfigError(`--idle-timeout-ms ${limits.idleTimeoutMs}: must be an integer of at least 0`);
    this.limits = { ...limits };
    this.refusals = new RateLimitedLog(clock, "warn", `${server} refused connections over its caps`);
    this.idleCloses = new RateLimitedLog(clock, "info", `${server} closed idle connections`);
  }

  /** Connections admitted and not yet closed. */
  get connectionCount(): number {
    return this.open;
  }

  /**
   * Admits `socket`, or refuses it (typed Error frame, then close) when a cap is reached. Returns
   * the release to call exactly once when an admitted socket closes, or undefined after a refusal.
   */
  admit(socket: Socket): (() => void) | undefined {
    const peer = peerOf(socket);
    const fromPeer = this.perPeer.get(peer) ?? 0;
    let refusal: TooManyConnectionsError | undefined;
    if (this.open >= this.limits.connectionsMax) {
      refusal = new TooManyConnectionsError(`the ${this.server} holds ${this.open} connections, its cap (--connections-max ${this.limits.connectionsMax}); try again later`);
    } else if (fromPeer >= this.limits.connectionsPerPeerMax) {
      refusal = new TooManyConnectionsError(
        `the ${this.server} holds ${fromPeer} connections from ${peer}, its per-peer cap (--connections-per-peer-max ${this.limits.connectionsPerPeerMax}); close some or try again later`,
      );
    }
    if (refusal !== undefined) {
      this.refuse(socket, refusal, { peer, fromPeer, connections: this.open });
      return undefined;
    }
    this.open++;
    this.perPeer.set(peer, fromPeer + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.open--;
      const left = (this.perPeer.get(peer) ?? 1) - 1;
      if (left === 0) this.perPeer.delete(peer);
      else this.perPeer.set(peer, left);
    };
  }

  /** Counts an idle close for the rate-limited log line. */
  noteIdleClose(socket: Socket, idleMs: number): void {
    this.idleCloses.note({ peer: peerOf(socket), idleMs, idleTimeoutMs: this.limits.idleTimeoutMs });
  }

  private refuse(socket: Socket, err: TooManyConnectionsError, fields: Record<string, unknown>): void {
    this.refusedTotal++;
    this.refusals.note({ ...fields, connectionsMax: this.limits.connectionsMax, connectionsPerPeerMax: this.limits.connectionsPerPeerMax, error: err.message });
    socket.on("error", (e) => log.debug("refused connection error", { peer: peerOf(socket), error: e }));
    if (this.refusing.size >= connectionsRefusingMax) {
      socket.destroy();
      return;
    }
    this.refusing.add(socket);
    // Read and drop what the peer sends (its Hello): closing with unread bytes would reset the
    // connection, and a reset can destroy the Error frame before the peer reads it.
    socket.on("data", () => undefined);
    const timer = this.clock.setTimer(connectionRefusalGraceMs, () => socket.destroy());
    socket.on("close", () => {
      timer.cancel();
      this.refusing.delete(socket);
    });
    writeConnectionError(socket, err);
    socket.end();
  }

  /** Cuts the refused sockets still waiting. */
  close(): void {
    for (const s of this.refusing) s.destroy();
    this.refusing.clear();
  }
}

/**
 * The idle timeout of one connection, shared by both servers. Once started, it calls `onIdle` (once)
 * when nothing arrived or was written for `timeoutMs` (`touch()` marks activity) and `busy()` says
 * nothing is in flight or waiting; while busy it looks again a timeout later. 0: never idle.
 */
export class IdleWatch {
  private lastActivityMs: number;
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    readonly timeoutMs: number,
    private readonly busy: () => boolean,
    private readonly onIdle: (quietMs: number) => void,
  ) {
    this.lastActivityMs = clock.monotonicMs();
  }

  /** Bytes arrived or a reply was written. */
  touch(): void {
    this.lastActivityMs = this.clock.monotonicMs();
  }

  /** Starts watching (after Hello). */
  start(): void {
    if (this.timeoutMs > 0 && !this.stopped) this.timer = this.clock.setTimer(this.timeoutMs, () => this.check());
  }

  /** Stops for good (the connection closes). Idempotent. */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private check(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const quietMs = this.clock.monotonicMs() - this.lastActivityMs;
    const busy = this.busy();
    if (busy || quietMs < this.timeoutMs) {
      this.timer = this.clock.setTimer(busy ? this.timeoutMs : this.timeoutMs - quietMs, () => this.check());
      return;
    }
    this.stopped = true;
    this.onIdle(Math.round(quietMs));
  }
}
