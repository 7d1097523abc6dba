// Proves exactly-once appends against real processes: SDK writes survive connections cut (by a TCP proxy) with appends in
// flight, each event read back once and in order; a raw writer cut after unacknowledged AppendBlocks resends from the
// last event number AppendSetup reports and duplicates add nothing; conditional appends at a stale offset write nothing;
// and every segment-management frame (seal, truncate, merge, delete, attributes) works end to end over the wire.
import t, { type Test } from "tap";
import { connect, type Socket } from "node:net";
import { randomBytes } from "node:crypto";
import { Sluice } from "../client/index.js";
import { containerOf, errorFromWireId, toSluiceError } from "../common/index.js";
import { encodeEvents, encodeFrame, FrameDecoder, protocolVersion, WireConnection, type Frame, type FrameOf } from "../proto/index.js";
import { freePorts, startSluiceProcess, type SluiceProcess } from "../perf/support/standalone-process.js";
import { readAllByKey, testEvent } from "./support/events.js";
import { startTcpProxy } from "./support/tcp-proxy.js";
import { eventually } from "./support/lognodes.js";
import { appendBlock, numberedEvents, readNumbers, segmentInContainer } from "./support/store-cluster.js";

const requestTimeoutMs = 10_000;
const containerCount = 4;

/** A `sluice segmentstore` with its in-process log node on a free port; killed at teardown. */
async function startStore(t: Test): Promise<{ proc: SluiceProcess; port: number }> {
  const [port] = (await freePorts(1)) as [number];
  const proc = await startSluiceProcess("segmentstore", ["--data-dir", `${t.testdir()}/store`, "--port", String(port)]);
  t.teardown(() => proc.kill());
  return { proc, port };
}

async function wire(port: number): Promise<WireConnection> {
  return WireConnection.connect("127.0.0.1", port, { connectTimeoutMs: 5_000 });
}

/** The error code a request rejected with, or "resolved". */
async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => "resolved",
    (err: unknown) => toSluiceError(err).code,
  );
}

/** Every byte of `segment` from `offset` to its tail (ReadSegment, waitMs 0). */
async function readBytes(conn: WireConnection, segment: string, offset = 0): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (;;) {
    const r = await conn.request({ type: "ReadSegment", requestId: conn.nextRequestId(), segment, offset, maxBytes: 1 << 20, waitMs: 0 }, "SegmentRead", requestTimeoutMs);
    parts.push(r.data);
    offset += r.data.length;
    if (r.atTail) return Buffer.concat(parts);
  }
}

function info(conn: WireConnection, segment: string): Promise<FrameOf<"SegmentInfo">> {
  return conn.request({ type: "GetSegmentInfo", requestId: conn.nextRequestId(), segment }, "SegmentInfo", requestTimeoutMs);
}

function create(conn: WireConnection, segment: string): Promise<FrameOf<"SegmentCreated">> {
  return conn.request({ type: "CreateSegment", requestId: conn.nextRequestId(), segment }, "SegmentCreated", requestTimeoutMs);
}

function conditional(conn: WireConnection, writerId: Buffer, segment: string, expectedOffset: number, lastEventNumber: number, payload: string): Promise<FrameOf<"DataAppended">> {
  const data = encodeEvents([Buffer.from(payload)]);
  return conn.request(
    { type: "ConditionalAppend", requestId: conn.nextRequestId(), writerId, segment, expectedOffset, lastEventNumber, eventCount: 1, data },
    "DataAppended",
    requestTimeoutMs,
  );
}

/**
 * A raw socket to the store, for cutting a connection with appends in flight: WireConnection.close() is graceful
 * (end() flushes queued frames and lets the peer finish), and a cut must not be.
 */
async function rawConnect(port: number): Promise<{ socket: Socket; next(type: Frame["type"]): Promise<Frame> }> {
  const socket = connect(port, "127.0.0.1");
  socket.setNoDelay(true);
  socket.on("error", () => undefined); // ECONNRESET after our own cut is expected.
  const frames: Frame[] = [];
  let wake: (() => void) | undefined;
  const decoder = new FrameDecoder((f) => {
    frames.push(f);
    wake?.();
  });
  socket.on("data", (c: Buffer) => decoder.push(c));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  /** Waits for the next frame of `type` (any Error frame fails it). */
  const next = async (type: Frame["type"]): Promise<Frame> => {
    const deadline = Date.now() + requestTimeoutMs;
    for (;;) {
      const i = frames.findIndex((f) => f.type === type || f.type === "Error");
      if (i >= 0) {
        const f = frames.splice(i, 1)[0]!;
        if (f.type === "Error" && type !== "Error") throw errorFromWireId(f.errorId, f.message);
        return f;
      }
      if (Date.now() > deadline) throw new Error(`no ${type} within ${requestTimeoutMs} ms`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
    }
  };
  for (const p of encodeFrame({ type: "Hello", highVersion: protocolVersion, lowVersion: protocolVersion })) socket.write(p);
  await next("Hello");
  return { socket, next };
}

void t.test("exactly once across reconnects through the SDK", async (t) => {
  const dir = t.testdir();
  const store = await startStore(t);
  const proxy = await startTcpProxy("127.0.0.1", store.port);
  t.teardown(() => proxy.close());
  const [cport] = (await freePorts(1)) as [number];
  const controller = await startSluiceProcess("controller", ["--metadata", `file://${dir}/controller`, "--port", String(cport), "--segmentstore", `tcp://127.0.0.1:${proxy.port}`]);
  t.teardown(() => controller.kill());

  const sluice = await Sluice.connect(`tcp://127.0.0.1:${cport}`);
  t.teardown(() => sluice.close());
  await sluice.admin.createScope("eo");
  await sluice.admin.createStream("eo/events", { scaling: { type: "fixed", minSegments: 4 } });
  const writer = sluice.writer("eo/events");

  const total = 20_000;
  const keyCount = 100;
  const cutEvery = 4_000;
  const acks: Promise<void>[] = [];
  let acked = 0;
  const failures: string[] = [];
  /** Per cut: events issued and acknowledged at that moment, and connection pairs the proxy held. */
  const cuts: { issued: number; acked: number; pairs: number }[] = [];
  for (let i = 0; i < total; i++) {
    const key = `k${i % keyCount}`;
    acks.push(
      writer.write(testEvent(key, Math.floor(i / keyCount)), { routingKey: key }).then(
        () => void acked++,
        (err: unknown) => void failures.push(toSluiceError(err).message),
      ),
    );
    // Yield every 100 events so blocks leave while the loop goes on: at each cut some are sent and not yet acked.
    if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
    if ((i + 1) % cutEvery === cutEvery - 100) {
      // The writer reconnects after a backoff (50 ms at first) while the loop issues 4,000 writes in a few ms: wait
      // until it is connected again and acks flow, so that each cut breaks a live connection.
      const ackedBefore = acked;
      t.ok(await eventually(() => acked > ackedBefore && proxy.connections >= 1, 10_000), `writes are acknowledged again before cut ${cuts.length + 1}`);
    }
    if ((i + 1) % cutEvery === 0) {
      // The last 100 writes have left (the yield above let the block be cut and sent) and are not yet acknowledged.
      cuts.push({ issued: i + 1, acked, pairs: proxy.connections });
      proxy.cutAll();
    }
  }
  await Promise.all(acks);
  // A cut pair is destroyed, so the pairs counted at different cuts are different connections; the writer's
  // connection after the last cut (which carried the last acks) is one more.
  const connectionsSeen = cuts.reduce((n, c) => n + c.pairs, 0) + proxy.connections;
  t.same(failures, [], "no write failed");
  t.equal(acked, total, "every write resolved");
  t.equal(cuts.length, 5, "five cuts");
  t.comment(`cuts (issued/acked/pairs): ${cuts.map((c) => `${c.issued}/${c.acked}/${c.pairs}`).join(" ")}`);
  t.ok(cuts.every((c) => c.acked < c.issued), "every cut came with writes issued and not yet acknowledged");
  t.ok(cuts.every((c) => c.pairs >= 1), "every cut broke at least one live connection");
  t.ok(connectionsSeen > 5, `the proxy carried ${connectionsSeen} connections (more than 5): the writer connected again after each cut`);

  const { total: read, byKey } = await readAllByKey(sluice, "eo/events");
  t.equal(read, total, "20,000 events read back: none lost, none duplicated");
  const expected = JSON.stringify(Array.from({ length: total / keyCount }, (_, i) => i));
  const inOrder = [...byKey.values()].filter((seqs) => JSON.stringify(seqs) === expected).length;
  t.equal(byKey.size, keyCount, "every key is there");
  t.equal(inOrder, keyCount, "each key's sequence is exactly 0..199 in order");
});

void t.test("a raw writer cut after N unacknowledged appends resends from the server's last event number", async (t) => {
  const store = await startStore(t);
  const conn = await wire(store.port);
  t.teardown(() => conn.close());
  const eventCount = 50;
  const all = Array.from({ length: eventCount }, (_, i) => i);
  // Three ways to cut: after the last frame, with a reset (unread data discarded), and in the middle of the last frame.
  const cutKinds = ["destroy", "reset", "mid-frame"] as const;
  for (const [round, kind] of cutKinds.entries()) {
    const segment = `eo/raw/${round}.#epoch.0`;
    await create(conn, segment);
    const writerId = randomBytes(16);

    const raw = await rawConnect(store.port);
    raw.socket.write(Buffer.concat(encodeFrame({ type: "SetupAppend", requestId: 1, writerId, segment })));
    const setup = (await raw.next("AppendSetup")) as FrameOf<"AppendSetup">;
    t.equal(setup.lastEventNumber, -1, `${kind}: a new writer has stored nothing`);
    const frames = all.map((i) =>
      Buffer.concat(encodeFrame({ type: "AppendBlock", requestId: 2 + i, writerId, segment, lastEventNumber: i, eventCount: 1, data: numberedEvents(i, i) })),
    );
    if (kind === "mid-frame") {
      const last = frames[eventCount - 1]!;
      raw.socket.write(Buffer.concat([...frames.slice(0, -1), last.subarray(0, last.length >> 1)]));
    } else {
      raw.socket.write(Buffer.concat(frames));
    }
    // At once, without waiting for any DataAppended.
    if (kind === "reset") raw.socket.resetAndDestroy();
    else raw.socket.destroy();
    // AppendSetup answers the last *durable* event number, and the store drops resent events that are still queued
    // from the lost connection. Set up again at once in the first round (the cut appends are typically still queued:
    // L is -1 and the whole resend is deduplicated in the queue), and after the queue has settled in the others (L
    // is what reached the store, and only the rest is resent).
    if (round > 0) await new Promise((resolve) => setTimeout(resolve, 500));

    const setupAgain = await conn.request({ type: "SetupAppend", requestId: conn.nextRequestId(), writerId, segment }, "AppendSetup", requestTimeoutMs);
    const last = setupAgain.lastEventNumber;
    t.comment(`${kind}: the store had event ${last} of ${eventCount - 1} when the writer set up again`);
    t.ok(last >= -1 && last <= (kind === "mid-frame" ? eventCount - 2 : eventCount - 1), `${kind}: last event number ${last} in range`);

    const resent: Promise<FrameOf<"DataAppended">>[] = [];
    for (let i = last + 1; i < eventCount; i++) resent.push(appendBlock(conn, writerId, segment, i, i));
    const replies = await Promise.all(resent);
    if (replies.length > 0) t.equal(replies[replies.length - 1]!.eventNumber, eventCount - 1, `${kind}: the last resent event is acknowledged`);
    t.same(await readNumbers(conn, segment), all, `${kind}: the segment holds events 0..49 exactly once, in order`);
    const lengthBefore = (await info(conn, segment)).length;

    // Blocks already stored, sent again on purpose: acknowledged, and nothing is added.
    const dupOne = await appendBlock(conn, writerId, segment, 0, 0);
    t.ok(dupOne.eventNumber >= 0, `${kind}: a resent event 0 is acknowledged (eventNumber ${dupOne.eventNumber})`);
    if (last >= 0) {
      const dupPrefix = await appendBlock(conn, writerId, segment, 0, last);
      t.ok(dupPrefix.eventNumber >= last, `${kind}: events 0..${last} resent as one block are acknowledged`);
    }
    const dupAll = await Promise.all(all.map((i) => appendBlock(conn, writerId, segment, i, i)));
    t.equal(dupAll.length, eventCount, `${kind}: all 50 events resent one by one are acknowledged`);
    t.equal((await info(conn, segment)).length, lengthBefore, `${kind}: duplicates leave the length unchanged`);
    t.same(await readNumbers(conn, segment), all, `${kind}: and the events unchanged`);
  }
});

void t.test("conditional append at a stale offset fails and writes nothing", async (t) => {
  const store = await startStore(t);
  const conn = await wire(store.port);
  t.teardown(() => conn.close());
  const segment = "eo/cond/0.#epoch.0";
  await create(conn, segment);
  const w1 = randomBytes(16);
  const w2 = randomBytes(16);

  const first = await conditional(conn, w1, segment, 0, 0, "first");
  t.equal(first.eventNumber, 0, "a conditional append at offset 0 of an empty segment is applied");
  const firstEvent = encodeEvents([Buffer.from("first")]);
  t.equal(first.segmentLength, firstEvent.length, "and reports the new length");

  t.equal(await codeOf(conditional(conn, w2, segment, 0, 0, "second")), "CONDITIONAL_CHECK_FAILED", "another writer at the stale offset 0 fails the check");
  t.equal((await info(conn, segment)).length, firstEvent.length, "the failed append left the length unchanged");
  t.same(await readBytes(conn, segment), firstEvent, "the segment's bytes are exactly the first event");

  const again = await conditional(conn, w1, segment, 0, 0, "first");
  t.equal(again.eventNumber, 0, "the first writer's resend (same event number, stale offset) is acknowledged, not checked again");
  t.equal((await info(conn, segment)).length, firstEvent.length, "and adds nothing");

  const second = await conditional(conn, w2, segment, firstEvent.length, 0, "second");
  const both = Buffer.concat([firstEvent, encodeEvents([Buffer.from("second")])]);
  t.equal(second.segmentLength, both.length, "a conditional append at the right offset is applied");
  t.same(await readBytes(conn, segment), both, "the segment holds the two events");

  const sealed = await conn.request({ type: "SealSegment", requestId: conn.nextRequestId(), segment }, "SegmentSealed", requestTimeoutMs);
  t.equal(sealed.length, both.length, "SealSegment answers the final length");
  t.equal(await codeOf(conditional(conn, w2, segment, both.length, 1, "third")), "SEGMENT_SEALED", "a conditional append to a sealed segment is SEGMENT_SEALED");
  const sealedInfo = await info(conn, segment);
  t.ok(sealedInfo.sealed && sealedInfo.length === both.length, "the sealed segment is unchanged");

  // TruncateSegment at an event boundary.
  const truncated = await conn.request({ type: "TruncateSegment", requestId: conn.nextRequestId(), segment, startOffset: firstEvent.length }, "SegmentTruncated", requestTimeoutMs);
  t.equal(truncated.startOffset, firstEvent.length, "TruncateSegment answers the new start offset");
  t.equal((await info(conn, segment)).startOffset, firstEvent.length, "GetSegmentInfo reports it");
  t.equal(await codeOf(readBytes(conn, segment, 0)), "SEGMENT_TRUNCATED", "a read below the start offset is SEGMENT_TRUNCATED");
  t.same(await readBytes(conn, segment, firstEvent.length), encodeEvents([Buffer.from("second")]), "the bytes above it are still read");

  // MergeSegments: two segments of one container.
  const target = "eo/merge/0.#epoch.0";
  const source = segmentInContainer("eo/merge-src", containerOf(target, containerCount), containerCount);
  await create(conn, target);
  await create(conn, source);
  const wt = randomBytes(16);
  const ws = randomBytes(16);
  for (const [s, w] of [[target, wt], [source, ws]] as const) {
    await conn.request({ type: "SetupAppend", requestId: conn.nextRequestId(), writerId: w, segment: s }, "AppendSetup", requestTimeoutMs);
  }
  await appendBlock(conn, wt, target, 0, 2);
  await appendBlock(conn, ws, source, 0, 3);
  const targetLength = (await info(conn, target)).length + (await info(conn, source)).length;
  const merged = await conn.request({ type: "MergeSegments", requestId: conn.nextRequestId(), target, source }, "SegmentsMerged", requestTimeoutMs);
  t.equal(merged.targetLength, targetLength, "SegmentsMerged answers the target's new length");
  t.same(await readNumbers(conn, target), [0, 1, 2, 0, 1, 2, 3], "the target holds its events, then the source's");
  t.equal(await codeOf(info(conn, source)), "NO_SUCH_SEGMENT", "the source is gone after the merge");

  // Attributes: set, read, a failed compare changes nothing, remove.
  const a = randomBytes(16);
  const b = randomBytes(16);
  await conn.request(
    { type: "UpdateAttributes", requestId: conn.nextRequestId(), segment: target, updates: [{ id: a, value: 5, compare: true, expected: -1 }] },
    "AttributesUpdated",
    requestTimeoutMs,
  );
  const getAttributes = () => conn.request({ type: "GetAttributes", requestId: conn.nextRequestId(), segment: target, ids: [a, b] }, "AttributesRead", requestTimeoutMs);
  t.same((await getAttributes()).values.map((v) => v.value), [5, -1], "GetAttributes reads the value set, -1 for an absent one");
  const failedCompare = conn.request(
    {
      type: "UpdateAttributes",
      requestId: conn.nextRequestId(),
      segment: target,
      updates: [
        { id: b, value: 7, compare: false, expected: -1 },
        { id: a, value: 6, compare: true, expected: 4 },
      ],
    },
    "AttributesUpdated",
    requestTimeoutMs,
  );
  t.equal(await codeOf(failedCompare), "CONDITIONAL_CHECK_FAILED", "an update whose compare fails is CONDITIONAL_CHECK_FAILED");
  t.same((await getAttributes()).values.map((v) => v.value), [5, -1], "and none of its updates applied");
  await conn.request(
    { type: "UpdateAttributes", requestId: conn.nextRequestId(), segment: target, updates: [{ id: a, value: -1, compare: true, expected: 5 }] },
    "AttributesUpdated",
    requestTimeoutMs,
  );
  t.same((await getAttributes()).values.map((v) => v.value), [-1, -1], "value -1 removes an attribute");

  // DeleteSegment.
  const deleted = await conn.request({ type: "DeleteSegment", requestId: conn.nextRequestId(), segment: target }, "SegmentDeleted", requestTimeoutMs);
  t.equal(deleted.segment, target, "DeleteSegment answers SegmentDeleted");
  t.equal(await codeOf(info(conn, target)), "NO_SUCH_SEGMENT", "the deleted segment is gone");
  t.equal(
    await codeOf(conn.request({ type: "DeleteSegment", requestId: conn.nextRequestId(), segment: target }, "SegmentDeleted", requestTimeoutMs)),
    "NO_SUCH_SEGMENT",
    "deleting it again is NO_SUCH_SEGMENT",
  );
});
