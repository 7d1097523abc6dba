// Proves RemoteLogNode gives the LogNodeApi answers and typed errors of the storage behind a LogNodeServer: every call
// round-trips, concurrent first calls share one connect, pipelined adds stay in call order, a request timeout rejects
// TIMEOUT and closes the connection (the next call reconnects), a server that goes away fails pending calls and then
// UNAVAILABLE, and close() makes later calls CLOSED. It runs a real server on 127.0.0.1 over a small in-memory storage.
import t, { type Test } from "tap";
import {
  DataCorruptionError,
  LedgerFencedError,
  ManualClock,
  NoSuchEntryError,
  SluiceError,
  logNodeRequestTimeoutMs,
} from "../../common/index.js";
import type { LedgerState, LogNodeApi } from "./log-node-api.js";
import { LogNodeServer } from "./lognode/log-node-server.js";
import { RemoteLogNode } from "./remote-log-node.js";

t.setTimeout(60_000);

/** Ledgers in memory, with the LogNodeApi semantics the tests rely on, and calls that can be held or failed. */
class MemoryStorage implements LogNodeApi {
  readonly address = "memory:test";
  readonly ledgers = new Map<number, { entries: Map<number, Buffer>; lac: number; fenced: boolean }>();
  /** Adds in the order the storage received them, as `ledger:entryId`. */
  readonly adds: string[] = [];
  /** While true, every call waits until release(). */
  holding = false;
  /** The next call fails with this. */
  failNext: SluiceError | null = null;
  private held: (() => void)[] = [];

  release(): void {
    this.holding = false;
    for (const go of this.held.splice(0)) go();
  }

  get heldCount(): number {
    return this.held.length;
  }

  private async enter(): Promise<void> {
    if (this.holding) await new Promise<void>((resolve) => this.held.push(resolve));
    const err = this.failNext;
    this.failNext = null;
    if (err !== null) throw err;
  }

  private ledger(id: number) {
    let l = this.ledgers.get(id);
    if (l === undefined) this.ledgers.set(id, (l = { entries: new Map(), lac: -1, fenced: false }));
    return l;
  }

  private state(id: number): LedgerState {
    const l = this.ledgers.get(id);
    if (l === undefined) return { lac: -1, lastEntryId: -1, fenced: false };
    return { lac: l.lac, lastEntryId: Math.max(-1, ...l.entries.keys()), fenced: l.fenced };
  }

  async addEntry(ledger: number, entryId: number, lac: number, data: readonly Buffer[], recovery: boolean): Promise<void> {
    this.adds.push(`${ledger}:${entryId}`);
    await this.enter();
    const l = this.ledger(ledger);
    if (l.fenced && !recovery) throw new LedgerFencedError(`ledger ${ledger} is fenced`);
    if (!l.entries.has(entryId)) l.entries.set(entryId, Buffer.concat(data));
    l.lac = Math.max(l.lac, lac);
  }

  async readEntries(ledger: number, firstEntryId: number, maxBytes: number): Promise<Buffer[]> {
    await this.enter();
    const out: Buffer[] = [];
    let bytes = 0;
    for (let id = firstEntryId; ; id++) {
      const entry = this.ledgers.get(ledger)?.entries.get(id);
      if (entry === undefined || (out.length > 0 && bytes + entry.length > maxBytes)) break;
      out.push(entry);
      bytes += entry.length;
    }
    if (out.length === 0) throw new NoSuchEntryError(`entry ${ledger}:${firstEntryId} is not here`);
    return out;
  }

  async readState(ledger: number): Promise<LedgerState> {
    await this.enter();
    return this.state(ledger);
  }

  async fence(ledger: number): Promise<LedgerState> {
    await this.enter();
    this.ledger(ledger).fenced = true;
    return this.state(ledger);
  }

  async deleteLedger(ledger: number): Promise<void> {
    await this.enter();
    this.ledgers.delete(ledger);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof SluiceError ? err.code : `not a SluiceError: ${String(err)}`;
  }
  return "resolved";
}

async function errorOf(p: Promise<unknown>): Promise<SluiceError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SluiceError) return err;
    throw new Error(`not a SluiceError: ${String(err)}`, { cause: err });
  }
  throw new Error("resolved");
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; !condition(); i++) {
    if (i > 10_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

async function setup(t: Test, opts: { clock?: ManualClock; requestTimeoutMs?: number } = {}) {
  const storage = new MemoryStorage();
  const server = await LogNodeServer.listen(storage, "127.0.0.1", 0);
  t.teardown(() => server.close());
  const node = new RemoteLogNode("127.0.0.1", server.port, opts);
  t.teardown(() => node.close());
  return { storage, server, node };
}

void t.test("every call round-trips", async (t) => {
  const { node, server } = await setup(t);
  t.equal(node.address, `127.0.0.1:${server.port}`);
  t.strictSame(await node.readState(5), { lac: -1, lastEntryId: -1, fenced: false }, "an unknown ledger");
  await node.addEntry(5, 0, -1, [Buffer.from("zero")], false);
  await node.addEntry(5, 1, 0, [Buffer.from("o"), Buffer.from("ne")], false);
  await node.addEntry(5, 2, 1, [], false);
  t.strictSame((await node.readEntries(5, 0, 1_000)).map(String), ["zero", "one", ""]);
  t.strictSame((await node.readEntries(5, 1, 0)).map(String), ["one"], "the first entry whatever maxBytes");
  t.strictSame((await node.readEntries(5, 0, 2 ** 40)).length, 3, "a maxBytes above u32 is fine");
  t.strictSame(await node.readState(5), { lac: 1, lastEntryId: 2, fenced: false });
  t.strictSame(await node.fence(5), { lac: 1, lastEntryId: 2, fenced: true });
  await node.addEntry(5, 3, 2, [Buffer.from("three")], true);
  await node.deleteLedger(5);
  t.strictSame(await node.readState(5), { lac: -1, lastEntryId: -1, fenced: false }, "deleted");
  t.equal(server.connectionCount, 1, "one connection carried every call");
});

void t.test("the node's errors arrive typed; bad arguments fail INVALID_ARGUMENT without a connection", async (t) => {
  const { node, storage, server } = await setup(t);
  t.equal(await codeOf(node.addEntry(0, 0, -1, [], false)), "INVALID_ARGUMENT", "ledger 0");
  t.equal(await codeOf(node.addEntry(1, -1, -1, [], false)), "INVALID_ARGUMENT", "entry -1");
  t.equal(await codeOf(node.addEntry(1, 0, -2, [], false)), "INVALID_ARGUMENT", "lac -2");
  t.equal(await codeOf(node.addEntry(1, 0, -1, [Buffer.alloc(17 * 1024 * 1024)], false)), "INVALID_ARGUMENT", "entry too large");
  t.equal(await codeOf(node.readEntries(2 ** 32, 0, 10)), "INVALID_ARGUMENT", "ledger above u32");
  t.equal(await codeOf(node.readEntries(1, 0.5, 10)), "INVALID_ARGUMENT", "entry id not an integer");
  t.equal(server.connectionCount, 0, "no connection opened for them");

  await node.fence(1);
  const fenced = await errorOf(node.addEntry(1, 0, -1, [Buffer.from("x")], false));
  t.ok(fenced instanceof LedgerFencedError, "LEDGER_FENCED as its class");
  t.match(fenced.message, /ledger 1 is fenced/);
  t.ok((await errorOf(node.readEntries(1, 7, 10))) instanceof NoSuchEntryError, "NO_SUCH_ENTRY as its class");
  storage.failNext = new DataCorruptionError("entry 1:0 fails its checksum");
  t.ok((await errorOf(node.readEntries(1, 0, 10))) instanceof DataCorruptionError, "DATA_CORRUPTION as its class");
  t.strictSame(await node.readState(1), { lac: -1, lastEntryId: -1, fenced: true }, "the connection carries on");
  t.equal(server.connectionCount, 1);
});

void t.test("concurrent first calls share one connect; pipelined adds stay in call order", async (t) => {
  const { node, storage, server } = await setup(t);
  const adds: Promise<void>[] = [];
  const completed: number[] = [];
  for (let i = 0; i < 300; i++) {
    adds.push(node.addEntry(9, i, i - 1, [Buffer.from(`e${i}`)], false).then(() => void completed.push(i)));
    // Some calls are made while the connection opens, some once it is open.
    if (i === 150) await until(() => storage.adds.length > 0, "the first adds");
  }
  await Promise.all(adds);
  t.equal(server.connectionCount, 1, "one connection");
  t.strictSame(storage.adds, Array.from({ length: 300 }, (_, i) => `9:${i}`), "the storage received them in call order");
  t.strictSame(completed, Array.from({ length: 300 }, (_, i) => i), "and they completed in order");
  t.equal((await node.readEntries(9, 0, 1 << 20)).length, 300);
});

void t.test("a request past its deadline is TIMEOUT, closes the connection, and the next call reconnects", async (t) => {
  const clock = new ManualClock();
  const { node, storage, server } = await setup(t, { clock });
  await node.readState(1);
  storage.holding = true;
  const slow = errorOf(node.readState(1));
  clock.advance(1);
  const behind = errorOf(node.fence(1));
  await until(() => storage.heldCount === 2, "both calls at the storage");
  clock.advance(logNodeRequestTimeoutMs - 1);
  const timedOut = await slow;
  t.equal(timedOut.code, "TIMEOUT", "the first call timed out");
  const closed = await behind;
  t.equal(closed.code, "CONNECTION_CLOSED", "the call behind it on the same connection fails too");
  t.equal(closed.cause, timedOut, "because of the timeout");
  await until(() => server.connectionCount === 0, "the connection closed");
  storage.release();
  t.strictSame(await node.readState(1), { lac: -1, lastEntryId: -1, fenced: true }, "the next call reconnects");
  t.equal(server.connectionCount, 1);
});

void t.test("a server that goes away fails pending calls, then later calls are UNAVAILABLE", async (t) => {
  const { node, storage, server } = await setup(t);
  await node.readState(1);
  storage.holding = true;
  const pending = errorOf(node.addEntry(1, 0, -1, [Buffer.from("x")], false));
  await until(() => storage.heldCount === 1, "the add at the storage");
  await server.close();
  t.equal((await pending).code, "CONNECTION_CLOSED");
  const later = await errorOf(node.readState(1));
  t.equal(later.code, "UNAVAILABLE");
  t.match(later.message, node.address, "names the node");
  t.ok(later.cause instanceof SluiceError, "the connect error is the cause");
  t.equal(await codeOf(node.readState(1)), "UNAVAILABLE", "each call tries once, no retry loop");
  storage.release();
});

void t.test("close: pending calls fail CONNECTION_CLOSED, calls waiting to connect and later calls CLOSED", async (t) => {
  const { node, storage, server } = await setup(t);
  storage.holding = true;
  const pending = codeOf(node.readState(1));
  await until(() => storage.heldCount === 1, "the call at the storage");
  await node.close();
  t.equal(await pending, "CONNECTION_CLOSED");
  t.equal(await codeOf(node.readState(1)), "CLOSED");
  await node.close();
  t.pass("close is idempotent");
  storage.release();

  const connecting = new RemoteLogNode("127.0.0.1", server.port);
  const queued = codeOf(connecting.readState(1));
  await connecting.close();
  t.equal(await queued, "CLOSED", "a call still waiting for its connection");
  await until(() => server.connectionCount === 0, "no connection left open");
});
