// Proves SegmentHelper's data-plane calls against small wire-protocol servers on 127.0.0.1 (real
// TCP, real frames): each call sends the right request and maps the reply; "exists" on create and
// "absent" on delete count as done; a retriable error (WRONG_HOST) is retried after resolving the
// endpoint again, so a container that moved is found; other errors are raised at once; retries
// stop at their bound (or a create's shorter waitMsMax) with the last error; NO_SEGMENT_STORE, from
// the endpoint lookup or from the resolver after a store that cannot be reached, ends a call at once.
import t, { type Test } from "tap";
import { createServer, type Server, type Socket } from "node:net";
import { freePorts, ManualClock, NoSegmentStoreError, NoSuchSegmentError, SegmentExistsError, SegmentSealedError, WrongHostError, type SluiceError } from "../../common/index.js";
import { encodeFrame, errorFrame, FrameDecoder, protocolVersion, type Endpoint, type Frame } from "../../proto/index.js";
import { SegmentHelper, segmentCallAttemptsMax } from "./segment-helper.js";
import { drive } from "./stream-test-support.js";

type Handler = (frame: Frame) => Frame | SluiceError;

/** A segment store stand-in: answers Hello, then every request through `handler`. */
async function wireServer(t: Test, handler: Handler): Promise<{ endpoint: Endpoint; requests: Frame[] }> {
  const requests: Frame[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    const send = (f: Frame) => socket.write(Buffer.concat(encodeFrame(f)));
    const decoder = new FrameDecoder((frame) => {
      if (frame.type === "Hello") {
        send({ type: "Hello", highVersion: protocolVersion, lowVersion: protocolVersion });
        return;
      }
      requests.push(frame);
      const reply = handler(frame);
      const requestId = "requestId" in frame ? frame.requestId : 0;
      send(reply instanceof Error ? errorFrame(requestId, reply) : reply);
    });
    socket.on("data", (chunk: Buffer) => decoder.push(chunk));
    socket.on("error", () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return { endpoint: { host: "127.0.0.1", port: address.port }, requests };
}

/** Answers every segment request the way a store serving it would. */
const serving: Handler = (f) => {
  switch (f.type) {
    case "CreateSegment":
      return f.segment.endsWith(".1") ? new SegmentExistsError(`${f.segment} exists`) : { type: "SegmentCreated", requestId: f.requestId, segment: f.segment };
    case "SealSegment":
      return { type: "SegmentSealed", requestId: f.requestId, segment: f.segment, length: 42 };
    case "MergeSegments":
      return f.target.startsWith("sc/s/9") ? new SegmentSealedError(`merge target ${f.target} is sealed`) : { type: "SegmentsMerged", requestId: f.requestId, target: f.target, source: f.source, targetLength: 99 };
    case "TruncateSegment":
      return { type: "SegmentTruncated", requestId: f.requestId, segment: f.segment, startOffset: f.startOffset };
    case "DeleteSegment":
      return new NoSuchSegmentError(`${f.segment} does not exist`);
    case "GetSegmentInfo":
      return { type: "SegmentInfo", requestId: f.requestId, segment: f.segment, startOffset: 3, length: 10, sealed: true, lastModifiedMs: 0 };
    default:
      return new NoSuchSegmentError("unexpected request");
  }
};

void t.test("each call sends its request and maps the reply", async (t) => {
  const store = await wireServer(t, serving);
  const helper = new SegmentHelper();
  t.teardown(() => helper.close());
  const ops = helper.opsFor({ endpointOf: () => Promise.resolve(store.endpoint) });
  await ops.createSegment("sc/s/0.#epoch.0");
  await ops.createSegment("sc/s/0.#epoch.1");
  t.equal(await ops.sealSegment("sc/s/0.#epoch.0"), 42);
  t.equal(await ops.mergeSegments("sc/s/0.#epoch.0", "sc/s/0.#epoch.0#txn." + "a".repeat(32)), 99);
  await ops.truncateSegment("sc/s/0.#epoch.0", 7);
  await ops.deleteSegment("sc/s/5.#epoch.0");
  t.same(await ops.segmentInfo("sc/s/0.#epoch.0"), { startOffset: 3, length: 10, sealed: true });
  await t.rejects(ops.mergeSegments("sc/s/9.#epoch.0", "sc/s/9.#epoch.0#txn." + "a".repeat(32)), { code: "SEGMENT_SEALED" }, "not retriable: raised");
  t.same(
    store.requests.map((f) => f.type),
    ["CreateSegment", "CreateSegment", "SealSegment", "MergeSegments", "TruncateSegment", "DeleteSegment", "GetSegmentInfo", "MergeSegments"],
    "one request per call, none retried",
  );
  const truncate = store.requests[4];
  t.equal(truncate?.type === "TruncateSegment" ? truncate.startOffset : undefined, 7);
});

void t.test("WRONG_HOST is retried at the endpoint resolved again", async (t) => {
  const old = await wireServer(t, () => new WrongHostError("container moved"));
  const current = await wireServer(t, serving);
  const helper = new SegmentHelper();
  t.teardown(() => helper.close());
  let resolved = 0;
  const ops = helper.opsFor({ endpointOf: () => Promise.resolve(resolved++ === 0 ? old.endpoint : current.endpoint) });
  t.equal(await ops.sealSegment("sc/s/0.#epoch.0"), 42);
  t.equal(resolved, 2, "resolved before each attempt");
  t.equal(old.requests.length, 1);
  t.equal(current.requests.length, 1);
});

void t.test("retries stop at their bound with the last error", async (t) => {
  const old = await wireServer(t, () => new WrongHostError("container moved"));
  const clock = new ManualClock();
  const helper = new SegmentHelper(clock);
  t.teardown(() => helper.close());
  const ops = helper.opsFor({ endpointOf: () => Promise.resolve(old.endpoint) });
  await t.rejects(drive(clock, ops.createSegment("sc/s/0.#epoch.0"), 1_000), { code: "WRONG_HOST" });
  t.ok(old.requests.length > 1, "retried");
  t.ok(old.requests.length <= segmentCallAttemptsMax, `at most ${segmentCallAttemptsMax} attempts (${old.requests.length})`);
});

void t.test("a create's waitMsMax ends its retries sooner than the helper's own bound", async (t) => {
  const old = await wireServer(t, () => new WrongHostError("container moved"));
  const clock = new ManualClock();
  const helper = new SegmentHelper(clock);
  t.teardown(() => helper.close());
  const ops = helper.opsFor({ endpointOf: () => Promise.resolve(old.endpoint) });
  const startMs = clock.monotonicMs();
  await t.rejects(drive(clock, ops.createSegment("sc/s/0.#epoch.0", { waitMsMax: 500 }), 50), { code: "WRONG_HOST" });
  t.ok(clock.monotonicMs() - startMs <= 600, `gave up within the wait (${clock.monotonicMs() - startMs} ms of clock)`);
});

void t.test("NO_SEGMENT_STORE ends a call at once: from the lookup, or after a store that cannot be reached", async (t) => {
  const helper = new SegmentHelper();
  t.teardown(() => helper.close());
  let lookups = 0;
  const none = helper.opsFor({
    endpointOf: () => {
      lookups++;
      return Promise.reject(new NoSegmentStoreError("no segment store is serving container 1"));
    },
  });
  const startedMs = performance.now();
  await t.rejects(none.sealSegment("sc/s/0.#epoch.0"), { code: "NO_SEGMENT_STORE" });
  t.equal(lookups, 1, "not retried");

  // Nothing listens on this port: the connect is refused, and the resolver says nobody can serve.
  const [dead] = await freePorts(1);
  let asked = 0;
  const gone = helper.opsFor({
    endpointOf: () => Promise.resolve({ host: "127.0.0.1", port: dead! }),
    whyUnserved: () => {
      asked++;
      return Promise.resolve(new NoSegmentStoreError("no segment store is serving container 1"));
    },
  });
  await t.rejects(gone.createSegment("sc/s/0.#epoch.0"), { code: "NO_SEGMENT_STORE", message: new RegExp(`127\\.0\\.0\\.1:${dead}, cannot be reached`) });
  t.equal(asked, 1, "asked once, after the first failed connect");
  t.ok(performance.now() - startedMs < 2_000, "both answered at once");
});
