/**
 * One client connection of the segment store's data plane: decodes frames, dispatches them to the
 * owning container, and writes replies. Malformed input (bad framing, oversized length, unknown
 * frame type) gets an Error frame and the connection is closed; a bad request in a sound frame
 * (unknown segment, events whose lengths do not add up) gets an Error frame for that request and
 * the connection stays open. In neither case is anything written to a segment.
 *
 * Backpressure: while the append bytes taken and not yet acknowledged, or the bytes waiting in the
 * socket's write buffer, are above the high watermark, the socket is paused; it resumes below the
 * low watermark. Other requests are bounded per connection in number and in the bytes their reads
 * may return; past either bound a request gets OVERLOADED at once, so one client cannot take the
 * store's memory or every tail-waiter slot.
 */
import type { Socket } from "node:net";
import type { Clock, TimerHandle } from "../../common/index.js";
import { InvalidArgumentError, MalformedFrameError, OverloadedError, toSluiceError, type SluiceError, UnsupportedVersionError, WriterNotSetUpError, connectionInflightBytesHigh, connectionInflightBytesLow, connectionReadBytesMax, connectionRequestsInflightMax, readBytesMax, helloTimeoutMs, writersPerConnectionMax, logger, parseSegmentName } from "../../common/index.js";
import { encodeFrame, errorFrame, FrameDecoder, protocolVersion, validateEvents, type Frame, type FrameOf } from "../../proto/index.js";
import type { AppendResult, SegmentContainer } from "../container/segment-container.js";

const log = logger("segmentstore");

/** Finds the container serving a segment here; raises WRONG_HOST or CONTAINER_NOT_READY. */
export type ContainerLookup = (segment: string) => SegmentContainer;

export class ConnectionHandler {
  private readonly decoder: FrameDecoder;
  private helloDone = false;
  private closed = false;
  private paused = false;
  private inflightBytes = 0;
  /** Requests other than appends being served, and the bytes their reads may return. */
  private requestsInflight = 0;
  private readBytesInflight = 0;
  private readonly helloTimer: TimerHandle;
  /** Writers set up on this connection, as `writerIdHex/segment`. */
  private readonly writers = new Set<string>();

  constructor(
    private readonly socket: Socket,
    private readonly lookup: ContainerLookup,
    private readonly onClosed: () => void,
    clock: Clock,
  ) {
    this.decoder = new FrameDecoder((frame) => this.dispatch(frame));
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("drain", () => this.updateFlow());
    socket.on("error", (err) => log.debug("connection error", { remote: socket.remoteAddress, error: err }));
    // A connection that never says Hello holds a slot for nothing: close it.
    this.helloTimer = clock.setTimer(helloTimeoutMs, () => this.fatal(new MalformedFrameError(`no Hello within ${helloTimeoutMs} ms`)));
    socket.on("close", () => {
      this.helloTimer.cancel();
      this.closed = true;
      this.onClosed();
    });
  }

  private receive(chunk: Buffer): void {
    if (this.closed) return;
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
    this.write(errorFrame(0, err));
    this.socket.end();
    this.socket.destroySoon();
  }

  private write(frame: Frame): void {
    if (this.socket.destroyed) return;
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
      return;
    }
    switch (frame.type) {
      case "KeepAlive":
        return;
      case "SetupAppend":
        return this.setupAppend(frame);
      case "AppendBlock":
        return this.appendBlock(frame);
      case "ReadSegment":
        return this.readSegment(frame);
      case "CreateSegment":
        return this.request(frame, async (c) => {
          await c.createSegment(frame.segment);
          return { type: "SegmentCreated", requestId: frame.requestId, segment: frame.segment };
        });
      case "GetSegmentInfo":
        return this.request(frame, (c) => {
          const i = c.info(frame.segment);
          return Promise.resolve({
            type: "SegmentInfo",
            requestId: frame.requestId,
            segment: frame.segment,
            startOffset: i.startOffset,
            length: i.length,
            sealed: i.sealed,
            lastModifiedMs: i.lastModifiedMs,
          });
        });
      case "Hello":
      case "Error":
      case "AppendSetup":
      case "DataAppended":
      case "SegmentRead":
      case "SegmentCreated":
      case "SegmentInfo":
      case "AddEntry":
      case "EntryAdded":
      case "ReadEntries":
      case "EntriesRead":
      case "ReadLedgerState":
      case "LedgerStateRead":
      case "FenceLedger":
      case "LedgerFenced":
      case "DeleteLedger":
      case "LedgerDeleted":
        throw new MalformedFrameError(`${frame.type} is not a request a client may send`);
    }
  }

  /**
   * Runs a request against its container; any SluiceError, thrown or rejected, becomes an Error
   * frame for that request (the connection stays open).
   */
  private request(frame: Frame & { requestId: number; segment: string }, run: (c: SegmentContainer) => Promise<Frame>, readBytes = 0): void {
    const fail = (err: unknown) => this.write(errorFrame(frame.requestId, toSluiceError(err), frame.segment));
    if (this.requestsInflight >= connectionRequestsInflightMax || this.readBytesInflight + readBytes > connectionReadBytesMax) {
      fail(new OverloadedError(`connection has ${this.requestsInflight} requests (${this.readBytesInflight} read bytes) outstanding; wait for replies`));
      return;
    }
    let reply: Promise<Frame>;
    try {
      parseSegmentName(frame.segment);
      reply = run(this.lookup(frame.segment));
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

  private setupAppend(frame: FrameOf<"SetupAppend">): void {
    this.request(frame, (c) => {
      const key = `${frame.writerId.toString("hex")}/${frame.segment}`;
      if (!this.writers.has(key) && this.writers.size >= writersPerConnectionMax) {
        throw new OverloadedError(`more than ${writersPerConnectionMax} writers on one connection`);
      }
      const lastEventNumber = c.lastEventNumber(frame.segment, frame.writerId);
      this.writers.add(key);
      return Promise.resolve({ type: "AppendSetup", requestId: frame.requestId, writerId: frame.writerId, segment: frame.segment, lastEventNumber });
    });
  }

  private appendBlock(frame: FrameOf<"AppendBlock">): void {
    const key = `${frame.writerId.toString("hex")}/${frame.segment}`;
    const bytes = frame.data.length;
    let appended: Promise<AppendResult>;
    try {
      if (!this.writers.has(key)) {
        throw new WriterNotSetUpError(`writer ${frame.writerId.toString("hex")} has not set up appends to ${frame.segment} on this connection`);
      }
      parseSegmentName(frame.segment);
      // Lengths must add up before anything reaches the log: a bad client cannot corrupt a segment.
      validateEvents(frame.data, frame.eventCount);
      appended = this.lookup(frame.segment).append(frame.segment, frame.writerId, frame.lastEventNumber, frame.eventCount, frame.data);
    } catch (err) {
      // The writer must set up again (and learn what was stored) before its next block is taken;
      // dropping the setup now, synchronously, rejects the blocks already behind this one.
      this.writers.delete(key);
      this.write(errorFrame(frame.requestId, toSluiceError(err), frame.segment));
      return;
    }
    this.inflightBytes += bytes;
    this.updateFlow();
    appended.then(
      (r) => {
        this.inflightBytes -= bytes;
        this.write({ type: "DataAppended", requestId: frame.requestId, writerId: frame.writerId, segment: frame.segment, eventNumber: r.eventNumber, segmentLength: r.segmentLength });
      },
      (err: unknown) => {
        this.inflightBytes -= bytes;
        this.writers.delete(key);
        this.write(errorFrame(frame.requestId, toSluiceError(err), frame.segment));
      },
    );
  }

  private readSegment(frame: FrameOf<"ReadSegment">): void {
    this.request(frame, async (c) => {
      if (frame.maxBytes < 1) throw new InvalidArgumentError("maxBytes must be at least 1");
      const r = await c.read(frame.segment, frame.offset, frame.maxBytes, frame.waitMs);
      return { type: "SegmentRead", requestId: frame.requestId, segment: frame.segment, offset: r.offset, atTail: r.atTail, endOfSegment: r.endOfSegment, data: r.data };
    }, Math.min(frame.maxBytes, readBytesMax));
  }

  private updateFlow(): void {
    if (this.closed) return;
    const load = Math.max(this.inflightBytes, this.socket.writableLength);
    if (!this.paused && load > connectionInflightBytesHigh) {
      this.paused = true;
      this.socket.pause();
    } else if (this.paused && load < connectionInflightBytesLow) {
      this.paused = false;
      this.socket.resume();
    }
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}
