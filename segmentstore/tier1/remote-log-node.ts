/**
 * A log node reached over the wire protocol (wire.md, "Log node frames"): the LogNodeApi a ledger
 * client uses for a node in another process. It gives the same answers and typed errors as the
 * node's storage called in-process, plus the failures of a network between them.
 *
 * One connection, opened lazily by the first call (concurrent callers share that connect), carries
 * every call, sent in call order: adds a ledger writer pipelines reach the node, and so its
 * journal, in the order they were made. Nothing is retried here; the ledger client above decides
 * what to retry and where.
 *
 * Failures besides the node's own typed errors (LEDGER_FENCED, NO_SUCH_ENTRY, DATA_CORRUPTION,
 * INVALID_ARGUMENT, ...):
 * - UNAVAILABLE (naming the address, the connect error as cause) when the connect or its Hello
 *   fails or takes longer than `connectTimeoutMs`; the next call connects again.
 * - TIMEOUT when a request is not answered within `requestTimeoutMs` (counted from when it is
 *   sent); the connection is then closed, because a node that does not answer in time cannot be
 *   trusted with the requests queued behind on the same connection.
 * - CONNECTION_CLOSED (the reason as cause) for every call pending when the connection closes;
 *   the outcome of those calls is unknown. The next call opens a new connection.
 * - OVERLOADED when connectionRequestsMax calls are already waiting or pending.
 * - CLOSED after close().
 */
import {
  ClosedError,
  ConnectionClosedError,
  InvalidArgumentError,
  MalformedFrameError,
  OverloadedError,
  TimeoutError,
  UnavailableError,
  connectionRequestsMax,
  ledgerEntryBytesMax,
  logNodeConnectTimeoutMs,
  logNodeRequestTimeoutMs,
  systemClock,
  toSluiceError,
  type Clock,
  type SluiceError,
} from "../../common/index.js";
import { WireConnection, type Frame, type FrameOf, type RequestFrame } from "../../proto/index.js";
import type { LedgerState, LogNodeApi } from "./log-node-api.js";

export interface RemoteLogNodeOptions {
  /** Deadline for the TCP connect and the Hello exchange together (default logNodeConnectTimeoutMs). */
  connectTimeoutMs?: number;
  /** Deadline for each request once sent (default logNodeRequestTimeoutMs). */
  requestTimeoutMs?: number;
  /** Source of both deadlines; the system clock unless a test injects one. */
  clock?: Clock;
}

const u32Max = 0xffff_ffff;

/** A call waiting for the connection to open; `send` runs it on the open connection. */
interface QueuedCall {
  send(conn: WireConnection): void;
  fail(err: SluiceError): void;
}

export class RemoteLogNode implements LogNodeApi {
  readonly address: string;
  private readonly connectTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly clock: Clock;
  /** The open connection, or null before the first call and after it closed. */
  private conn: WireConnection | null = null;
  private connecting = false;
  /** Calls made while the connection opens, in call order. Never non-empty while `conn` is open. */
  private queue: QueuedCall[] = [];
  /** Why each connection was closed from this side (a request timed out), for its pending calls. */
  private readonly brokenBy = new WeakMap<WireConnection, SluiceError>();
  private closed = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
    opts: RemoteLogNodeOptions = {},
  ) {
    this.address = `${host}:${port}`;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? logNodeConnectTimeoutMs;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? logNodeRequestTimeoutMs;
    this.clock = opts.clock ?? systemClock;
    if (!(this.connectTimeoutMs > 0 && Number.isFinite(this.connectTimeoutMs))) throw new InvalidArgumentError(`connectTimeoutMs ${this.connectTimeoutMs} must be positive`);
    if (!(this.requestTimeoutMs > 0 && Number.isFinite(this.requestTimeoutMs))) throw new InvalidArgumentError(`requestTimeoutMs ${this.requestTimeoutMs} must be positive`);
  }

  async addEntry(ledger: number, entryId: number, lac: number, data: readonly Buffer[], recovery: boolean): Promise<void> {
    checkLedger(ledger);
    checkEntryId("entryId", entryId);
    if (!Number.isSafeInteger(lac) || lac < -1) throw new InvalidArgumentError(`lac ${lac} is not -1 or an entry id`);
    let bytes = 0;
    for (const piece of data) bytes += piece.length;
    if (bytes > ledgerEntryBytesMax) throw new InvalidArgumentError(`entry of ${bytes} bytes exceeds ledgerEntryBytesMax ${ledgerEntryBytesMax}`);
    const reply = await this.call((requestId) => ({ type: "AddEntry", requestId, ledger, entryId, lac, recovery, data }), "EntryAdded");
    this.expect(reply.ledger === ledger && reply.entryId === entryId, reply, `entry ${ledger}:${entryId}`);
  }

  async readEntries(ledger: number, firstEntryId: number, maxBytes: number): Promise<Buffer[]> {
    checkLedger(ledger);
    checkEntryId("firstEntryId", firstEntryId);
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new InvalidArgumentError(`maxBytes ${maxBytes} is not a byte count`);
    // The node lowers maxBytes to its own bound anyway; the field is a u32.
    const wireMaxBytes = Math.min(maxBytes, u32Max);
    const reply = await this.call((requestId) => ({ type: "ReadEntries", requestId, ledger, firstEntryId, maxBytes: wireMaxBytes }), "EntriesRead");
    this.expect(reply.ledger === ledger && reply.firstEntryId === firstEntryId, reply, `entries ${ledger}:${firstEntryId}`);
    // Views of the reply frame: an entry kept long keeps the frame's buffer too (copy it to keep just the entry).
    return [...reply.entries];
  }

  async readState(ledger: number): Promise<LedgerState> {
    checkLedger(ledger);
    const reply = await this.call((requestId) => ({ type: "ReadLedgerState", requestId, ledger }), "LedgerStateRead");
    this.expect(reply.ledger === ledger, reply, `ledger ${ledger}`);
    return { lac: reply.lac, lastEntryId: reply.lastEntryId, fenced: reply.fenced };
  }

  async fence(ledger: number): Promise<LedgerState> {
    checkLedger(ledger);
    const reply = await this.call((requestId) => ({ type: "FenceLedger", requestId, ledger }), "LedgerFenced");
    this.expect(reply.ledger === ledger, reply, `ledger ${ledger}`);
    return { lac: reply.lac, lastEntryId: reply.lastEntryId, fenced: reply.fenced };
  }

  async deleteLedger(ledger: number): Promise<void> {
    checkLedger(ledger);
    const reply = await this.call((requestId) => ({ type: "DeleteLedger", requestId, ledger }), "LedgerDeleted");
    this.expect(reply.ledger === ledger, reply, `ledger ${ledger}`);
  }

  /** As LogNodeApi.instanceId: the node's cookie, asked afresh each time (a node may restart on other data). */
  async instanceId(): Promise<string> {
    const reply = await this.call((requestId) => ({ type: "ReadNodeIdentity", requestId }), "NodeIdentity");
    return reply.instanceId;
  }

  /** Closes the connection: pending calls reject CONNECTION_CLOSED, later calls CLOSED. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.failQueue(new ClosedError(`log node client for ${this.address} is closed`));
    const conn = this.conn;
    this.conn = null;
    if (conn !== null) await conn.close();
  }

  /**
   * Sends the request `build` makes, on the open connection at once or, while it opens, after the
   * calls made before this one, and resolves with its reply of type `expect`.
   */
  private call<T extends Frame["type"]>(build: (requestId: number) => RequestFrame, expect: T): Promise<FrameOf<T>> {
    return new Promise<FrameOf<T>>((resolve, reject) => {
      if (this.closed) return reject(new ClosedError(`log node client for ${this.address} is closed`));
      // Both paths settle through the same number of promise steps, so calls whose replies arrive
      // in order also complete in order, whether they waited for the connection or not.
      const send = (conn: WireConnection): void => {
        this.request(conn, build, expect).then(resolve, reject);
      };
      const conn = this.conn;
      if (conn !== null && !conn.closed) return send(conn);
      if (this.queue.length >= connectionRequestsMax) {
        return reject(new OverloadedError(`${connectionRequestsMax} calls already wait for the connection to ${this.address}`));
      }
      this.queue.push({ send, fail: reject });
      this.connect();
    });
  }

  private request<T extends Frame["type"]>(conn: WireConnection, build: (requestId: number) => RequestFrame, expect: T): Promise<FrameOf<T>> {
    return conn.request(build(conn.nextRequestId()), expect, this.requestTimeoutMs).catch((err: unknown) => {
      throw this.failure(conn, err);
    });
  }

  /** The error a failed request rejects with; a timeout also closes its connection. */
  private failure(conn: WireConnection, err: unknown): SluiceError {
    const e = toSluiceError(err);
    if (e instanceof TimeoutError) {
      if (!this.brokenBy.has(conn)) this.brokenBy.set(conn, e);
      if (this.conn === conn) this.conn = null;
      void conn.close();
      return e;
    }
    const broken = this.brokenBy.get(conn);
    if (e instanceof ConnectionClosedError && broken !== undefined) {
      return new ConnectionClosedError(`connection to log node ${this.address} closed after an earlier request failed: ${broken.message}`, { cause: broken });
    }
    return e;
  }

  private connect(): void {
    if (this.connecting) return;
    this.connecting = true;
    WireConnection.connect(this.host, this.port, { connectTimeoutMs: this.connectTimeoutMs, clock: this.clock }).then(
      (conn) => {
        this.connecting = false;
        if (this.closed) {
          // close() already failed the queue.
          void conn.close();
          return;
        }
        this.conn = conn;
        conn.onClose(() => {
          if (this.conn === conn) this.conn = null;
        });
        // Sent synchronously, in call order, before any later call can see the open connection.
        const queue = this.queue;
        this.queue = [];
        for (const queued of queue) queued.send(conn);
      },
      (err: unknown) => {
        this.connecting = false;
        const cause = toSluiceError(err);
        this.failQueue(new UnavailableError(`cannot reach log node ${this.address}: ${cause.message}`, { cause }));
      },
    );
  }

  private failQueue(err: SluiceError): void {
    const queue = this.queue;
    this.queue = [];
    for (const queued of queue) queued.fail(err);
  }

  /** A reply that does not answer what was asked means the peer is broken: fail the call. */
  private expect(ok: boolean, reply: Frame, what: string): void {
    if (!ok) throw new MalformedFrameError(`log node ${this.address} answered ${reply.type} that does not match ${what}`);
  }
}

function checkLedger(ledger: number): void {
  if (!Number.isInteger(ledger) || ledger < 1 || ledger > u32Max) throw new InvalidArgumentError(`ledger id ${ledger} is not a u32 >= 1`);
}

function checkEntryId(field: string, entryId: number): void {
  if (!Number.isSafeInteger(entryId) || entryId < 0) throw new InvalidArgumentError(`${field} ${entryId} is not an entry id (a safe integer >= 0)`);
}
