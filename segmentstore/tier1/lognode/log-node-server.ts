/**
 * A log node's TCP front end (wire.md, "Log node frames"): accepts ledger clients (bounded), and
 * for each connection exchanges Hello, decodes frames, calls the node's storage and answers each
 * request with its requestId as soon as that call completes.
 *
 * Ordering: the adds of one connection are handed to the storage in the order they arrive (frames
 * are dispatched synchronously, in stream order), so a client's pipelined adds reach the journal in
 * that order. Replies go out as calls complete, in whatever order that is.
 *
 * Errors: a storage rejection becomes an Error frame for that request (its typed code kept) and
 * the connection stays open. Malformed, oversized or unknown frames, a frame before Hello, or a
 * frame a log node does not serve (a segment store's, or a reply) get an Error frame with
 * requestId 0 and the connection is closed; the server and other connections carry on.
 *
 * Backpressure: while the bytes of a connection's unanswered adds, or of its replies waiting in
 * the socket's write buffer, are above logNodeInflightBytesHigh, the socket is paused; it resumes
 * below logNodeInflightBytesLow. Requests outstanding per connection, and the bytes their reads may
 * return, are bounded; past either bound a request gets OVERLOADED at once.
 *
 * Connections: admitted under a global and a per-peer cap, a refusal answered with a typed
 * TOO_MANY_CONNECTIONS Error frame and logged (rate-limited), as at the segment store
 * (segmentstore/server/connection-admission.ts). An optional idle timeout (off by default:
 * logNodeIdleTimeoutMsDefault says why) closes a connection with nothing outstanding that sent
 * nothing for that long.
 */
import { createServer, type Server, type Socket } from "node:net";
import {
  ConnectionClosedError,
  InternalError,
  MalformedFrameError,
  OverloadedError,
  SluiceError,
  UnsupportedVersionError,
  frameBytesMax,
  frameHeaderBytes,
  helloTimeoutMs,
  logNodeConnectionsMax,
  logNodeConnectionsPerPeerMaxDefault,
  logNodeIdleTimeoutMsDefault,
  connectionsRefusingMax,
  logNodeInflightBytesHigh,
  logNodeInflightBytesLow,
  logNodeReadBytesInflightMax,
  logNodeReadBytesMax,
  logNodeRequestsInflightMax,
  logger,
  systemClock,
  toSluiceError,
  type Clock,
  type TimerHandle,
} from "../../../common/index.js";
import { FrameDecoder, FrameWriter, errorFrame, protocolVersion, type Frame, type FrameOf, type RequestFrame } from "../../../proto/index.js";
import type { LedgerState, LogNodeApi } from "../log-node-api.js";
import { ConnectionAdmission, IdleWatch, writeConnectionError, type ConnectionLimits } from "../../server/connection-admission.js";

const log = logger("lognode");

/** EntriesRead carries each entry as `u32 length | bytes` (wire.md). */
const entryLengthBytes = 4;
/** Room for EntriesRead's fixed fields (20 bytes) with a margin; the entries get the rest of a frame. */
const entriesReadFieldsBytes = 64;
const entriesReadEntryBytesMax = frameBytesMax - frameHeaderBytes - entriesReadFieldsBytes;
/** How long a connection closed as idle may take to read its Error frame before it is cut. */
const idleCloseGraceMs = 1_000;

export const logNodeConnectionLimitsDefault: ConnectionLimits = {
  connectionsMax: logNodeConnectionsMax,
  connectionsPerPeerMax: logNodeConnectionsPerPeerMaxDefault,
  idleTimeoutMs: logNodeIdleTimeoutMsDefault,
};

export class LogNodeServer {
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly server: Server,
    private readonly connections: Set<LogNodeConnection>,
    /** The bound port (the real one when listen was given port 0). */
    readonly port: number,
    readonly admission: ConnectionAdmission,
  ) {}

  /**
   * Listens on host:port and serves `storage` there. Resolves once listening; rejects with the
   * listen error (for example EADDRINUSE), INVALID_CONFIG for limits out of range. The storage
   * stays the caller's: close() does not close it.
   */
  static async listen(storage: LogNodeApi, host: string, port: number, clock: Clock = systemClock, limits: Partial<ConnectionLimits> = {}): Promise<LogNodeServer> {
    const connections = new Set<LogNodeConnection>();
    const admission = new ConnectionAdmission("log node", { ...logNodeConnectionLimitsDefault, ...limits }, clock);
    const server = createServer((socket) => {
      const release = admission.admit(socket);
      if (release === undefined) return;
      const connection: LogNodeConnection = new LogNodeConnection(socket, storage, clock, admission, () => {
        release();
        connections.delete(connection);
      });
      connections.add(connection);
    });
    // A backstop only: admission refuses with a typed frame well before the kernel-level cut.
    server.maxConnections = admission.limits.connectionsMax + connectionsRefusingMax;
    const bound = await new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        const address = server.address();
        resolve(typeof address === "object" && address !== null ? address.port : port);
      });
    });
    return new LogNodeServer(server, connections, bound, admission);
  }

  /** Connections open now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Stops accepting, ends every connection (their outstanding storage calls still complete, but
   * nobody hears the answers) and resolves once the listener is closed. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const connection of this.connections) connection.close();
      this.admission.close();
    });
    return this.closing;
  }
}

/** One ledger client's connection. */
class LogNodeConnection {
  private readonly decoder: FrameDecoder;
  private readonly writer: FrameWriter;
  private readonly helloTimer: TimerHandle;
  private helloDone = false;
  private closed = false;
  private paused = false;
  /** Data bytes of adds handed to the storage and not yet answered. */
  private addBytesInflight = 0;
  /** Requests handed to the storage and not yet answered, and the bytes their reads may return. */
  private requestsInflight = 0;
  private readBytesInflight = 0;
  private readonly idle: IdleWatch;

  constructor(
    private readonly socket: Socket,
    private readonly storage: LogNodeApi,
    private readonly clock: Clock,
    private readonly admission: ConnectionAdmission,
    private readonly onClosed: () => void,
  ) {
    this.idle = new IdleWatch(clock, admission.limits.idleTimeoutMs, () => this.requestsInflight > 0 || this.paused || this.socket.writableLength > 0, (quietMs) => this.closeIdle(quietMs));
    this.decoder = new FrameDecoder((frame) => this.dispatch(frame));
    this.writer = new FrameWriter(socket);
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("drain", () => this.updateFlow());
    socket.on("error", (err) => log.debug("connection error", { remote: socket.remoteAddress, error: err }));
    // A connection that never says Hello holds a slot for nothing: close it.
    this.helloTimer = clock.setTimer(helloTimeoutMs, () => this.fatal(new MalformedFrameError(`no Hello within ${helloTimeoutMs} ms`)));
    socket.on("close", () => {
      this.helloTimer.cancel();
      this.idle.stop();
      this.closed = true;
      this.onClosed();
    });
  }

  close(): void {
    this.closed = true;
    this.idle.stop();
    this.socket.destroy();
  }

  /** Closes the connection the idle watch found quiet for its timeout with nothing outstanding. */
  private closeIdle(quietMs: number): void {
    if (this.closed) return;
    this.admission.noteIdleClose(this.socket, quietMs);
    this.closed = true;
    writeConnectionError(this.socket, new ConnectionClosedError(`the log node closed this connection after ${this.idle.timeoutMs} ms without a request (--idle-timeout-ms)`));
    this.socket.end();
    this.clock.setTimer(idleCloseGraceMs, () => this.socket.destroy());
  }

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    this.idle.touch();
    try {
      this.decoder.push(chunk);
    } catch (err) {
      this.fatal(toSluiceError(err));
    }
  }

  /** Answers a connection-level error (requestId 0) and closes this connection. */
  private fatal(err: SluiceError): void {
    if (this.closed) return;
    log.warn("closing connection after bad input", { remote: this.socket.remoteAddress, code: err.code, error: err.message });
    this.send(errorFrame(0, err));
    this.closed = true;
    this.socket.end();
    this.socket.destroySoon();
  }

  private dispatch(frame: Frame): void {
    if (this.closed) return;
    if (!this.helloDone) {
      if (frame.type !== "Hello") throw new MalformedFrameError(`expected Hello as the first frame, got ${frame.type}`);
      if (frame.lowVersion > protocolVersion || frame.highVersion < protocolVersion) {
        throw new UnsupportedVersionError(`client speaks versions ${frame.lowVersion}-${frame.highVersion}; this log node speaks ${protocolVersion}`);
      }
      this.helloDone = true;
      this.helloTimer.cancel();
      this.send({ type: "Hello", highVersion: protocolVersion, lowVersion: protocolVersion });
      this.idle.start();
      return;
    }
    switch (frame.type) {
      case "KeepAlive":
        return;
      case "AddEntry":
        return this.addEntry(frame);
      case "ReadEntries":
        return this.readEntries(frame);
      case "ReadLedgerState":
        return this.serve(frame.requestId, 0, 0, async () => stateFrame("LedgerStateRead", frame.requestId, frame.ledger, await this.storage.readState(frame.ledger)));
      case "FenceLedger":
        return this.serve(frame.requestId, 0, 0, async () => stateFrame("LedgerFenced", frame.requestId, frame.ledger, await this.storage.fence(frame.ledger)));
      case "DeleteLedger":
        return this.serve(frame.requestId, 0, 0, async () => {
          await this.storage.deleteLedger(frame.ledger);
          return { type: "LedgerDeleted", requestId: frame.requestId, ledger: frame.ledger };
        });
      case "ReadNodeIdentity":
        return this.serve(frame.requestId, 0, 0, async () => {
          if (this.storage.instanceId === undefined) throw new MalformedFrameError("this log node keeps no identity (cookie)");
          return { type: "NodeIdentity", requestId: frame.requestId, instanceId: await this.storage.instanceId() };
        });
      default:
        // Replies, Hello again, and segment-store frames.
        throw new MalformedFrameError(`${frame.type} is not a request a log node serves`);
    }
  }

  private addEntry(frame: FrameOf<"AddEntry">): void {
    let bytes = 0;
    for (const piece of frame.data) bytes += piece.length;
    this.serve(frame.requestId, 0, bytes, async () => {
      await this.storage.addEntry(frame.ledger, frame.entryId, frame.lac, frame.data, frame.recovery);
      return { type: "EntryAdded", requestId: frame.requestId, ledger: frame.ledger, entryId: frame.entryId };
    });
  }

  private readEntries(frame: FrameOf<"ReadEntries">): void {
    const maxBytes = Math.min(frame.maxBytes, logNodeReadBytesMax);
    this.serve(frame.requestId, maxBytes, 0, async () => {
      const entries = await this.storage.readEntries(frame.ledger, frame.firstEntryId, maxBytes);
      return { type: "EntriesRead", requestId: frame.requestId, ledger: frame.ledger, firstEntryId: frame.firstEntryId, entries: fitOneFrame(entries) };
    });
  }

  /**
   * Hands one request to the storage, counted against this connection's bounds until it is
   * answered. Whatever the call throws or rejects with becomes an Error frame for the request.
   */
  private serve(requestId: number, readBytes: number, addBytes: number, call: () => Promise<RequestFrame>): void {
    if (this.requestsInflight >= logNodeRequestsInflightMax || this.readBytesInflight + readBytes > logNodeReadBytesInflightMax) {
      const err = new OverloadedError(`connection has ${this.requestsInflight} requests (${this.readBytesInflight} read bytes) outstanding; wait for replies`);
      this.reply(errorFrame(requestId, err));
      return;
    }
    this.requestsInflight++;
    this.readBytesInflight += readBytes;
    this.addBytesInflight += addBytes;
    this.updateFlow();
    const settle = (reply: RequestFrame) => {
      this.requestsInflight--;
      this.readBytesInflight -= readBytes;
      this.addBytesInflight -= addBytes;
      this.reply(reply);
    };
    // `call` is async: a throw inside it arrives here as a rejection.
    call().then(settle, (err: unknown) => {
      if (!(err instanceof SluiceError)) log.error("storage call failed unexpectedly", { requestId, error: err });
      settle(errorFrame(requestId, toSluiceError(err)));
    });
  }

  /** Sends a request's answer; one that cannot be encoded (a storage bug) is answered INTERNAL. */
  private reply(frame: RequestFrame): void {
    try {
      this.send(frame);
    } catch (err) {
      log.error("reply cannot be encoded", { type: frame.type, error: err });
      this.send(errorFrame(frame.requestId, new InternalError(`${frame.type} reply cannot be encoded: ${toSluiceError(err).message}`)));
    }
  }

  private send(frame: Frame): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.idle.touch();
    // Replies completed in one tick (a journal batch acks many adds at once) leave in one writev.
    this.writer.write(frame);
    this.updateFlow();
  }

  private updateFlow(): void {
    if (this.closed) return;
    const load = Math.max(this.addBytesInflight, this.socket.writableLength);
    if (!this.paused && load > logNodeInflightBytesHigh) {
      this.paused = true;
      this.socket.pause();
    } else if (this.paused && load < logNodeInflightBytesLow) {
      this.paused = false;
      this.socket.resume();
    }
  }
}

function stateFrame(type: "LedgerStateRead" | "LedgerFenced", requestId: number, ledger: number, state: LedgerState): RequestFrame {
  return { type, requestId, ledger, lac: state.lac, lastEntryId: state.lastEntryId, fenced: state.fenced };
}

/**
 * The longest prefix of `entries` whose EntriesRead fits one frame. The first entry is always
 * kept (a ledger entry fits one frame, limits.ts asserts it); a shorter answer only makes the
 * reader ask again from the next entry.
 */
function fitOneFrame(entries: Buffer[]): Buffer[] {
  let bytes = 0;
  for (const [i, entry] of entries.entries()) {
    bytes += entryLengthBytes + entry.length;
    if (bytes > entriesReadEntryBytesMax && i > 0) return entries.slice(0, i);
  }
  return entries;
}
