/**
 * One client connection of the segment store's data plane: decodes frames, dispatches them to the
 * owning container, and writes replies. Malformed input (bad framing, oversized length, unknown
 * frame type) gets an Error frame and the connection is closed; a bad request in a sound frame
 * (unknown segment, events whose lengths do not add up) gets an Error frame for that request and
 * the connection stays open. In neither case is anything written to a segment.
 *
 * Backpressure (flow.ts): while the append bytes taken and not yet acknowledged, or the bytes
 * waiting in the socket's write buffer, are above the connection's high watermark, or the store's
 * total is above its own, the socket is paused; it resumes below the low watermarks. While pinned
 * bytes are at their bound, appends (AppendBlock, ConditionalAppend) are held in arrival order and
 * dispatched once memory is freed; other requests go on. Other requests are bounded per
 * connection in number and in the bytes their reads may return; past either bound a request gets
 * OVERLOADED at once, so one client cannot take the store's memory or every tail-waiter slot.
 *
 * Idle timeout: once Hello is done, a connection that has received nothing and written nothing for
 * `idleTimeoutMs`, and has nothing in flight or waiting (no request being served, a long-poll tail
 * read included; no append unacknowledged or held; no reply in its write buffer; not paused for
 * backpressure), is closed: an Error frame (requestId 0, CONNECTION_CLOSED, naming the timeout), then
 * the close. So a connection that said Hello and went quiet does not hold a slot for good.
 */
import type { Socket } from "node:net";
import type { Clock, TimerHandle } from "../../common/index.js";
import { ConnectionClosedError, InvalidArgumentError, MalformedFrameError, OverloadedError, toSluiceError, type SluiceError, UnsupportedVersionError, WriterNotSetUpError, connectionHeldAppendsMax, connectionReadBytesMax, connectionRequestsInflightMax, readBytesMax, helloTimeoutMs, writersPerConnectionMax, logger, parseSegmentName } from "../../common/index.js";
import { encodeFrame, errorFrame, FrameDecoder, protocolVersion, validateEvents, type Frame, type FrameOf } from "../../proto/index.js";
import type { AppendResult, SegmentContainer } from "../container/segment-container.js";
import type { FlowParticipant, StoreFlow } from "./flow.js";
import { segmentOf, serveManagement, type ManagementFrame } from "./segment-requests.js";
import { IdleWatch } from "./connection-admission.js";

type AppendFrame = FrameOf<"AppendBlock" | "ConditionalAppend">;
/** Frames that wait behind held appends: the appends, and set-ups (which must not overtake them). */
type HeldFrame = AppendFrame | FrameOf<"SetupAppend">;

/** How long a connection closed for bad input may take to flush its Error frame before it is destroyed. */
const fatalCloseGraceMs = 1_000;

const log = logger("segmentstore");

export interface ConnectionIdleOptions {
  /** Close the connection once idle this long (see the module comment); 0: never. */
  idleTimeoutMs: number;
  /** Told of each idle close (the server logs them, rate-limited). */
  onIdleClose?: (idleMs: number) => void;
}

/** Finds the container serving a segment here; raises WRONG_HOST or CONTAINER_NOT_READY. */
export type ContainerLookup = (segment: string) => SegmentContainer;

export class ConnectionHandler implements FlowParticipant {
  private readonly decoder: FrameDecoder;
  private helloDone = false;
  private closed = false;
  private paused = false;
  /** Append bytes received and not yet acknowledged or refused (held ones included). */
  private inflightBytes = 0;
  /**
   * Appends held while pinned bytes are at their bound, in arrival order, and the set-ups that
   * arrived after them (a writer's new set-up must not overtake its older blocks).
   */
  private held: HeldFrame[] = [];
  private draining = false;
  /** Requests other than appends being served, and the bytes their reads may return. */
  private requestsInflight = 0;
  private readBytesInflight = 0;
  private readonly helloTimer: TimerHandle;
  /** Writers set up on this connection, as `writerIdHex/segment`. */
  /**
   * Writers set up on this connection: `writerId/segment` -> the number of the set-up. A block that
   * fails later drops the set-up it was taken under, never a newer one (the writer may have set up
   * again after an earlier block's error, before this block's own failure came back).
   */
  private readonly writers = new Map<string, number>();
  private setupsTaken = 0;
  private readonly idleWatch: IdleWatch;

  constructor(
    private readonly socket: Socket,
    private readonly lookup: ContainerLookup,
    private readonly onClosed: () => void,
    private readonly clock: Clock,
    private readonly flow: StoreFlow,
    private readonly idle: ConnectionIdleOptions = { idleTimeoutMs: 0 },
  ) {
    this.idleWatch = new IdleWatch(clock, idle.idleTimeoutMs, () => this.busy, (quietMs) => this.closeIdle(quietMs));
    flow.join(this);
    this.decoder = new FrameDecoder((frame) => this.dispatch(frame));
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("drain", () => this.updateFlow());
    socket.on("error", (err) => log.debug("connection error", { remote: socket.remoteAddress, error: err }));
    // A connection that never says Hello holds a slot for nothing: close it.
    this.helloTimer = clock.setTimer(helloTimeoutMs, () => this.fatal(new MalformedFrameError(`no Hello within ${helloTimeoutMs} ms`)));
    socket.on("close", () => {
      this.helloTimer.cancel();
      this.idleWatch.stop();
      this.closed = true;
      this.dropHeld();
      flow.leave(this);
      this.onClosed();
    });
  }

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    this.idleWatch.touch();
    try {
      this.decoder.push(chunk);
    } catch (err) {
      this.fatal(toSluiceError(err));
    }
  }

  /** Answers a connection-level error and closes; the server and other connections carry on. */
  private fatal(err: SluiceError): void {
    if (this.closed) return;
    log.warn("closing connection after bad input", { remote: this.socket.remoteAddress, code: err.code, error: err.message });
    this.closed = true;
    // Nothing more is dispatched: what this connection holds no longer counts against the store.
    this.dropHeld();
    this.flow.leave(this);
    this.write(errorFrame(0, err));
    this.socket.end();
    this.socket.destroySoon();
    // A peer that never reads would keep the socket open: it gets a short grace, then is cut.
    this.clock.setTimer(fatalCloseGraceMs, () => this.socket.destroy());
  }

  private write(frame: Frame): void {
    if (this.socket.destroyed) return;
    this.idleWatch.touch();
    const pieces = encodeFrame(frame);
    if (pieces.length === 1) {
      this.socket.write(pieces[0]!);
    } else {
      this.socket.cork();
      for (const p of pieces) this.socket.write(p);
      this.socket.uncork();
    }
    this.updateFlow();
  }

  private dispatch(frame: Frame): void {
    if (this.closed) return;
    if (!this.helloDone) {
      if (frame.type !== "Hello") throw new MalformedFrameError(`expected Hello as the first frame, got ${frame.type}`);
      if (frame.lowVersion > protocolVersion || frame.highVersion < protocolVersion) {
        throw new UnsupportedVersionError(`client speaks versions ${frame.lowVersion}-${frame.highVersion}; this server speaks ${protocolVersion}`);
      }
      this.helloDone = true;
      this.helloTimer.cancel();
      this.write({ type: "Hello", highVersion: protocolVersion, lowVersion: protocolVersion });
      this.idleWatch.start();
      return;
    }
    switch (frame.type) {
      case "KeepAlive":
        return;
      case "SetupAppend":
        if (this.held.length > 0) {
          this.held.push(frame);
          return;
        }
        return this.setupAppend(frame);
      case "AppendBlock":
      case "ConditionalAppend":
        return this.receiveAppend(frame);
      case "ReadSegment":
        return this.readSegment(frame);
      case "CreateSegment":
      case "GetSegmentInfo":
      case "SealSegment":
      case "TruncateSegment":
      case "MergeSegments":
      case "DeleteSegment":
      case "UpdateAttributes":
      case "GetAttributes":
      case "GetChunks":
        return this.management(frame);
      default:
        // Replies, Hello again, and log-node frames.
        throw new MalformedFrameError(`${frame.type} is not a request a client may send`);
    }
  }

  /**
   * Runs a request against its container; any SluiceError, thrown or rejected, becomes an Error
   * frame for that request (the connection stays open).
   */
  private request(frame: Frame & { requestId: number }, segment: string, run: (c: SegmentContainer) => Promise<Frame>, readBytes = 0): void {
    const fail = (err: unknown) => this.write(errorFrame(frame.requestId, toSluiceError(err), segment));
    if (this.requestsInflight >= connectionRequestsInflightMax || this.readBytesInflight + readBytes > connectionReadBytesMax) {
      fail(new OverloadedError(`connection has ${this.requestsInflight} requests (${this.readBytesInflight} read bytes) outstanding; wait for replies`));
      return;
    }
    let reply: Promise<Frame>;
    try {
      parseSegmentName(segment);
      reply = run(this.lookup(segment));
    } catch (err) {
      fail(err);
      return;
    }
    this.requestsInflight++;
    this.readBytesInflight += readBytes;
    const settle = () => {
      this.requestsInflight--;
      this.readBytesInflight -= readBytes;
    };
    reply.then(
      (r) => {
        settle();
        this.write(r);
      },
      (err: unknown) => {
        settle();
        fail(err);
      },
    );
  }

  private management(frame: ManagementFrame): void {
    const segment = segmentOf(frame);
    this.request(frame, segment, (c) => {
      if (frame.type === "MergeSegments") parseSegmentName(frame.source);
      return serveManagement(frame, c, this.lookup);
    });
  }

  private setupAppend(frame: FrameOf<"SetupAppend">): void {
    this.request(frame, frame.segment, (c) => {
      const key = `${frame.writerId.toString("hex")}/${frame.segment}`;
      if (!this.writers.has(key) && this.writers.size >= writersPerConnectionMax) {
        throw new OverloadedError(`more than ${writersPerConnectionMax} writers on one connection`);
      }
      const lastEventNumber = c.lastEventNumber(frame.segment, frame.writerId);
      this.writers.set(key, ++this.setupsTaken);
      return Promise.resolve({ type: "AppendSetup", requestId: frame.requestId, writerId: frame.writerId, segment: frame.segment, lastEventNumber });
    });
  }

  /** Takes an append: dispatched at once, or held (in order) while pinned bytes are at their bound. */
  private receiveAppend(frame: AppendFrame): void {
    this.countInflight(frame.data.length);
    if (this.held.length > 0 || this.flow.holdAppends) {
      this.held.push(frame);
      this.updateFlow();
      return;
    }
    this.dispatchAppend(frame);
  }

  private countInflight(bytes: number): void {
    this.inflightBytes += bytes;
    this.flow.add(bytes);
  }

  private dispatchAppend(frame: AppendFrame): void {
    const conditional = frame.type === "ConditionalAppend";
    const key = `${frame.writerId.toString("hex")}/${frame.segment}`;
    const bytes = frame.data.length;
    const setup = this.writers.get(key);
    let appended: Promise<AppendResult>;
    try {
      // A conditional append stands alone (no SetupAppend): it is checked against the offset.
      if (!conditional && !this.writers.has(key)) {
        throw new WriterNotSetUpError(`writer ${frame.writerId.toString("hex")} has not set up appends to ${frame.segment} on this connection`);
      }
      parseSegmentName(frame.segment);
      // Lengths must add up before anything reaches the log: a bad client cannot corrupt a segment.
      validateEvents(frame.data, frame.eventCount);
      const c = this.lookup(frame.segment);
      appended = conditional
        ? c.append(frame.segment, frame.writerId, frame.lastEventNumber, frame.eventCount, frame.data, frame.expectedOffset)
        : c.append(frame.segment, frame.writerId, frame.lastEventNumber, frame.eventCount, frame.data);
    } catch (err) {
      // The writer must set up again (and learn what was stored) before its next block is taken;
      // dropping the setup now, synchronously, rejects the blocks already behind this one.
      if (!conditional) this.writers.delete(key);
      this.countInflight(-bytes);
      this.write(errorFrame(frame.requestId, toSluiceError(err), frame.segment));
      return;
    }
    this.updateFlow();
    appended.then(
      (r) => {
        this.countInflight(-bytes);
        this.write({ type: "DataAppended", requestId: frame.requestId, writerId: frame.writerId, segment: frame.segment, eventNumber: r.eventNumber, segmentLength: r.segmentLength });
      },
      (err: unknown) => {
        this.countInflight(-bytes);
        if (!conditional && this.writers.get(key) === setup) this.writers.delete(key);
        this.write(errorFrame(frame.requestId, toSluiceError(err), frame.segment));
      },
    );
  }

  private dropHeld(): void {
    for (const f of this.held) if (f.type !== "SetupAppend") this.countInflight(-f.data.length);
    this.held = [];
  }

  private readSegment(frame: FrameOf<"ReadSegment">): void {
    this.request(frame, frame.segment, async (c) => {
      if (frame.maxBytes < 1) throw new InvalidArgumentError("maxBytes must be at least 1");
      const r = await c.read(frame.segment, frame.offset, frame.maxBytes, frame.waitMs);
      return { type: "SegmentRead", requestId: frame.requestId, segment: frame.segment, offset: r.offset, atTail: r.atTail, endOfSegment: r.endOfSegment, data: r.data };
    }, Math.min(frame.maxBytes, readBytesMax));
  }

  /** Whether anything is in flight or waiting on this connection: then it is not idle, however quiet. */
  private get busy(): boolean {
    return this.requestsInflight > 0 || this.inflightBytes > 0 || this.held.length > 0 || this.paused || this.socket.writableLength > 0;
  }

  /** Closes the connection the idle watch found quiet for its timeout with nothing in flight. */
  private closeIdle(quietMs: number): void {
    if (this.closed) return;
    const timeoutMs = this.idle.idleTimeoutMs;
    this.idle.onIdleClose?.(quietMs);
    log.debug("closing an idle connection", { remote: this.socket.remoteAddress, idleMs: quietMs });
    this.closed = true;
    this.flow.leave(this);
    this.write(errorFrame(0, new ConnectionClosedError(`the segment store closed this connection after ${timeoutMs} ms without a request (--idle-timeout-ms)`)));
    this.socket.end();
    // Nothing is in flight; a peer that never reads is cut after a short grace.
    this.clock.setTimer(fatalCloseGraceMs, () => this.socket.destroy());
  }

  /** Dispatches held appends once allowed, then pauses or resumes the socket (flow.ts). */
  updateFlow(): void {
    if (this.closed) return;
    if (this.held.length > 0 && !this.draining && !this.flow.holdAppends) {
      this.draining = true;
      while (this.held.length > 0 && !this.flow.holdAppends && !this.closed) {
        const f = this.held.shift()!;
        if (f.type === "SetupAppend") this.setupAppend(f);
        else this.dispatchAppend(f);
      }
      this.draining = false;
    }
    const o = this.flow.options;
    const load = Math.max(this.inflightBytes, this.socket.writableLength);
    const storeFull = (this.flow.paused && this.inflightBytes > 0) || this.held.length >= connectionHeldAppendsMax;
    if (!this.paused && (load > o.connectionBytesHigh || storeFull)) {
      this.paused = true;
      this.socket.pause();
    } else if (this.paused && load < o.connectionBytesLow && !storeFull) {
      this.paused = false;
      this.socket.resume();
    }
  }

  close(): void {
    this.closed = true;
    this.idleWatch.stop();
    this.dropHeld();
    this.flow.leave(this);
    this.socket.destroy();
  }
}
