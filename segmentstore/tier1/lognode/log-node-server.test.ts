// Proves LogNodeServer's side of the wire: it answers each request with its requestId as the storage call completes, adds
// reach the storage in arrival order, storage errors arrive typed and keep the connection, bad input (garbage, unknown or
// foreign frames, no Hello) closes it, reads are capped to one frame, requests past the bound are OVERLOADED, and reading
// pauses while adds are unanswered. It drives a real server on 127.0.0.1 with raw sockets and a scripted in-memory storage.
import t, { type Test } from "tap";
import { connect, type Socket } from "node:net";
import {
  LedgerFencedError,
  ManualClock,
  MiB,
  errorFromWireId,
  helloTimeoutMs,
  logNodeInflightBytesHigh,
  logNodeReadBytesMax,
  logNodeRequestsInflightMax,
  type SluiceError,
} from "../../../common/index.js";
import { FrameDecoder, encodeFrame, protocolVersion, type Frame, type FrameOf } from "../../../proto/index.js";
import type { LedgerState, LogNodeApi } from "../log-node-api.js";
import { LogNodeServer } from "./log-node-server.js";

t.setTimeout(120_000);

interface Call {
  method: string;
  ledger: number;
  args: unknown[];
  resolve(value?: unknown): void;
  reject(err: SluiceError): void;
}

/** A storage that records every call and answers only when the test says so (or at once, with `auto`). */
class ScriptedStorage implements LogNodeApi {
  readonly address = "memory:scripted";
  readonly calls: Call[] = [];
  addBytes = 0;
  closed = false;
  /** Answers each call at once with this, unless null. */
  auto: ((call: Call) => unknown) | null = null;

  private record<T>(method: string, ledger: number, args: unknown[]): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const call: Call = { method, ledger, args, resolve: (v) => resolve(v as T), reject };
      this.calls.push(call);
      if (this.auto !== null) call.resolve(this.auto(call));
    });
  }

  addEntry(ledger: number, entryId: number, lac: number, data: readonly Buffer[], recovery: boolean): Promise<void> {
    for (const piece of data) this.addBytes += piece.length;
    return this.record("addEntry", ledger, [entryId, lac, Buffer.concat(data).toString(), recovery]);
  }
  readEntries(ledger: number, firstEntryId: number, maxBytes: number): Promise<Buffer[]> {
    return this.record("readEntries", ledger, [firstEntryId, maxBytes]);
  }
  readState(ledger: number): Promise<LedgerState> {
    return this.record("readState", ledger, []);
  }
  fence(ledger: number): Promise<LedgerState> {
    return this.record("fence", ledger, []);
  }
  deleteLedger(ledger: number): Promise<void> {
    return this.record("deleteLedger", ledger, []);
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/** A raw client: writes frames or bytes, collects decoded frames, notices the close. */
class RawClient {
  readonly frames: Frame[] = [];
  closed = false;
  private readonly decoder = new FrameDecoder((f) => this.frames.push(f));

  private constructor(readonly socket: Socket) {
    socket.on("data", (c: Buffer) => this.decoder.push(c));
    socket.on("error", () => undefined);
    socket.on("close", () => (this.closed = true));
  }

  static async open(port: number, hello = true): Promise<RawClient> {
    const socket = connect(port, "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    const client = new RawClient(socket);
    if (hello) {
      client.send({ type: "Hello", highVersion: protocolVersion, lowVersion: protocolVersion });
      await client.until(() => client.frames.length >= 1);
    }
    return client;
  }

  send(frame: Frame): boolean {
    let accepted = true;
    for (const b of encodeFrame(frame)) accepted = this.socket.write(b) && accepted;
    return accepted;
  }

  async until(condition: () => boolean, what = "condition"): Promise<void> {
    for (let i = 0; !condition(); i++) {
      if (i > 20_000) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  reply<T extends Frame["type"]>(requestId: number, type: T): FrameOf<T> | undefined {
    return this.frames.find((f): f is FrameOf<T> => f.type === type && "requestId" in f && f.requestId === requestId);
  }
}

function codeOf(f: Frame | undefined): string | undefined {
  return f?.type === "Error" ? errorFromWireId(f.errorId, f.message).code : undefined;
}

async function start(t: Test, clock?: ManualClock): Promise<{ server: LogNodeServer; storage: ScriptedStorage }> {
  const storage = new ScriptedStorage();
  const server = await LogNodeServer.listen(storage, "127.0.0.1", 0, clock);
  t.teardown(() => server.close());
  return { server, storage };
}

void t.test("every request is answered with its requestId when its call completes", async (t) => {
  const { server, storage } = await start(t);
  const c = await RawClient.open(server.port);
  t.teardown(() => c.socket.destroy());
  t.strictSame(c.frames[0], { type: "Hello", highVersion: protocolVersion, lowVersion: protocolVersion });
  const state: LedgerState = { lac: 3, lastEntryId: 4, fenced: true };
  c.send({ type: "AddEntry", requestId: 1, ledger: 7, entryId: 0, lac: -1, recovery: true, data: [Buffer.from("ab"), Buffer.from("c")] });
  c.send({ type: "ReadEntries", requestId: 2, ledger: 7, firstEntryId: 0, maxBytes: 100 });
  c.send({ type: "ReadLedgerState", requestId: 3, ledger: 7 });
  c.send({ type: "FenceLedger", requestId: 4, ledger: 7 });
  c.send({ type: "DeleteLedger", requestId: 5, ledger: 7 });
  c.send({ type: "KeepAlive" });
  await c.until(() => storage.calls.length === 5);
  t.strictSame(
    storage.calls.map((call) => [call.method, call.ledger, call.args]),
    [
      ["addEntry", 7, [0, -1, "abc", true]],
      ["readEntries", 7, [0, 100]],
      ["readState", 7, []],
      ["fence", 7, []],
      ["deleteLedger", 7, []],
    ],
  );
  t.equal(c.frames.length, 1, "nothing answered before the calls complete");
  // Complete in reverse order: each reply goes out as its call completes.
  const [add, read, readState, fence, del] = storage.calls;
  del?.resolve();
  fence?.resolve(state);
  readState?.resolve({ lac: -1, lastEntryId: -1, fenced: false });
  read?.resolve([Buffer.from("abc"), Buffer.from("d")]);
  add?.resolve();
  await c.until(() => c.frames.length === 6);
  t.strictSame(c.frames.slice(1).map((f) => f.type), ["LedgerDeleted", "LedgerFenced", "LedgerStateRead", "EntriesRead", "EntryAdded"]);
  t.strictSame(c.reply(1, "EntryAdded"), { type: "EntryAdded", requestId: 1, ledger: 7, entryId: 0 });
  t.strictSame(c.reply(2, "EntriesRead")?.entries.map(String), ["abc", "d"]);
  t.strictSame(c.reply(3, "LedgerStateRead"), { type: "LedgerStateRead", requestId: 3, ledger: 7, lac: -1, lastEntryId: -1, fenced: false });
  t.strictSame(c.reply(4, "LedgerFenced"), { type: "LedgerFenced", requestId: 4, ledger: 7, ...state });
  t.strictSame(c.reply(5, "LedgerDeleted"), { type: "LedgerDeleted", requestId: 5, ledger: 7 });
  await server.close();
  await c.until(() => c.closed, "close");
  t.equal(storage.closed, false, "closing the server leaves the storage open");
});

void t.test("adds reach the storage in arrival order; a storage error is typed and keeps the connection", async (t) => {
  const { server, storage } = await start(t);
  const c = await RawClient.open(server.port);
  t.teardown(() => c.socket.destroy());
  for (let i = 0; i < 500; i++) c.send({ type: "AddEntry", requestId: i + 1, ledger: 1, entryId: i, lac: i - 1, recovery: false, data: [Buffer.from(`e${i}`)] });
  await c.until(() => storage.calls.length === 500);
  t.strictSame(storage.calls.map((call) => call.args[0]), Array.from({ length: 500 }, (_, i) => i), "in the order sent");
  storage.calls[0]?.reject(new LedgerFencedError("ledger 1 is fenced"));
  for (const call of storage.calls.slice(1)) call.resolve();
  await c.until(() => c.frames.length === 501);
  const err = c.frames.find((f) => f.type === "Error");
  t.equal(err?.type === "Error" ? err.requestId : -1, 1);
  t.equal(codeOf(err), "LEDGER_FENCED");
  t.match(err?.type === "Error" ? err.message : "", /ledger 1 is fenced/);
  t.equal(err?.type === "Error" ? err.segment : "x", "");
  storage.auto = () => ({ lac: 0, lastEntryId: 0, fenced: true });
  c.send({ type: "ReadLedgerState", requestId: 9999, ledger: 1 });
  await c.until(() => c.reply(9999, "LedgerStateRead") !== undefined);
  t.equal(c.closed, false, "still open");
});

void t.test("bad input gets an Error frame with requestId 0, then the connection is closed", async (t) => {
  const clock = new ManualClock();
  const { server, storage } = await start(t, clock);
  const cases: [string, (c: RawClient) => void, string][] = [
    // "GET " is the type and "/ HT" the length: far above frameBytesMax, which is checked first.
    ["garbage", (c) => c.socket.write("GET / HTTP/1.1\r\n\r\n"), "FRAME_TOO_LARGE"],
    ["unknown frame type", (c) => c.socket.write(Buffer.from([0, 0, 0, 99, 0, 0, 0, 0])), "UNKNOWN_FRAME_TYPE"],
    ["a 2^32-1 length", (c) => c.socket.write(Buffer.from([0, 0, 0, 50, 0xff, 0xff, 0xff, 0xff])), "FRAME_TOO_LARGE"],
    ["a segment store frame", (c) => c.send({ type: "CreateSegment", requestId: 1, segment: "s/t/0" }), "MALFORMED_FRAME"],
    ["a reply frame", (c) => c.send({ type: "EntryAdded", requestId: 1, ledger: 1, entryId: 0 }), "MALFORMED_FRAME"],
    ["entry lengths that do not add up", (c) => c.socket.write(Buffer.from([0, 0, 0, 53, 0, 0, 0, 20, ...new Array<number>(19).fill(0), 1])), "MALFORMED_FRAME"],
  ];
  for (const [name, bad, code] of cases) {
    const c = await RawClient.open(server.port);
    bad(c);
    await c.until(() => c.closed, `${name}: close`);
    const last = c.frames.at(-1);
    t.equal(codeOf(last), code, name);
    t.equal(last?.type === "Error" ? last.requestId : -1, 0, `${name}: requestId 0`);
  }
  const early = await RawClient.open(server.port, false);
  early.send({ type: "ReadLedgerState", requestId: 1, ledger: 1 });
  await early.until(() => early.closed);
  t.equal(codeOf(early.frames.at(-1)), "MALFORMED_FRAME", "a request before Hello");

  const silent = await RawClient.open(server.port, false);
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.equal(silent.closed, false);
  clock.advance(helloTimeoutMs);
  await silent.until(() => silent.closed);
  t.equal(codeOf(silent.frames.at(-1)), "MALFORMED_FRAME", "no Hello in time");
  t.equal(storage.calls.length, 0, "nothing reached the storage");
  await silent.until(() => server.connectionCount === 0, "connections gone");
});

void t.test("reads ask for at most logNodeReadBytesMax and answer at most one frame", async (t) => {
  const { server, storage } = await start(t);
  const c = await RawClient.open(server.port);
  t.teardown(() => c.socket.destroy());
  const big = Buffer.alloc(6 * MiB, 1);
  storage.auto = () => [big, big, big];
  c.send({ type: "ReadEntries", requestId: 1, ledger: 2, firstEntryId: 5, maxBytes: 0xffff_ffff });
  await c.until(() => c.reply(1, "EntriesRead") !== undefined);
  t.equal(storage.calls[0]?.args[1], logNodeReadBytesMax, "maxBytes lowered");
  t.equal(c.reply(1, "EntriesRead")?.entries.length, 2, "three 6 MiB entries do not fit one frame: two are sent");
});

void t.test(`more than ${logNodeRequestsInflightMax} requests outstanding get OVERLOADED`, async (t) => {
  const { server, storage } = await start(t);
  const c = await RawClient.open(server.port);
  t.teardown(() => c.socket.destroy());
  for (let i = 1; i <= logNodeRequestsInflightMax + 1; i++) c.send({ type: "ReadLedgerState", requestId: i, ledger: 1 });
  await c.until(() => c.frames.length === 2);
  t.equal(codeOf(c.frames[1]), "OVERLOADED");
  t.equal(c.frames[1]?.type === "Error" ? c.frames[1].requestId : 0, logNodeRequestsInflightMax + 1);
  t.equal(storage.calls.length, logNodeRequestsInflightMax);
  for (const call of storage.calls) call.resolve({ lac: -1, lastEntryId: -1, fenced: false });
  await c.until(() => c.frames.length === logNodeRequestsInflightMax + 2);
  t.equal(c.closed, false);
});

void t.test("reading pauses while unanswered adds are above the high watermark, and resumes", async (t) => {
  const { server, storage } = await start(t);
  const c = await RawClient.open(server.port);
  t.teardown(() => c.socket.destroy());
  const entryBytes = 1 * MiB;
  const count = 96;
  const data = Buffer.alloc(entryBytes, 7);
  for (let i = 0; i < count; i++) c.send({ type: "AddEntry", requestId: i + 1, ledger: 3, entryId: i, lac: -1, recovery: false, data: [data] });
  // The storage never answers: the server must stop taking adds a little past the high watermark.
  let seen = -1;
  while (seen !== storage.addBytes) {
    seen = storage.addBytes;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  t.ok(storage.addBytes > logNodeInflightBytesHigh, `took ${storage.addBytes / MiB} MiB, above the high watermark`);
  t.ok(storage.addBytes <= logNodeInflightBytesHigh + 2 * entryBytes, "and stopped within a frame or two of it");
  t.ok(c.socket.writableLength > 0, "the rest waits on the client");
  // Answering lets reading resume; eventually every add arrives, in order, and is answered.
  storage.auto = () => undefined;
  for (const call of storage.calls) call.resolve();
  await c.until(() => c.frames.length === count + 1, "every answer");
  t.equal(storage.addBytes, count * entryBytes, "every add arrived");
  t.equal(c.frames.filter((f) => f.type === "EntryAdded").length, count, "every add answered");
});
