// Proves the segment store's membership wiring, in process (embedded metadata store, an in-memory log node, a fake
// controller link): with claim "none" it takes no container at start and registers with the controller (heartbeats
// name its id, host and port), it serves what is assigned to it afterwards, a segment created there is reported at
// rate 0 before any append, a store taking the container over reports its segments too, and close stops the heartbeats.
import t from "tap";
import { WireConnection } from "../proto/index.js";
import type { HeartbeatRequest, HeartbeatResponse, ReportLoadRequest } from "../proto/index.js";
import { assignContainers, FileMetadataStore, readContainerOwner } from "../controller/store/index.js";
import { containerOf } from "../common/index.js";
import { SegmentStore } from "./segment-store.js";
import type { ControllerLink } from "./stats/load-reporter.js";
import { MemoryLogNode } from "./tier1/ledger/memory-log-node.js";
import { Tier1 } from "./tier1/tier1.js";

class FakeLink implements ControllerLink {
  heartbeats: HeartbeatRequest[] = [];
  reports: ReportLoadRequest[] = [];
  heartbeat(req: HeartbeatRequest): Promise<HeartbeatResponse> {
    this.heartbeats.push(req);
    return Promise.resolve({ leaseId: "7", leaseMs: 10_000 });
  }
  reportLoad(req: ReportLoadRequest): Promise<void> {
    this.reports.push(req);
    return Promise.resolve();
  }
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

void t.test("claim none + controller: registers, serves what is assigned, reports every segment", async (t) => {
  const metadata = await FileMetadataStore.open(t.testdir());
  t.teardown(() => metadata.close());
  const node = new MemoryLogNode("mem");
  const tier1 = new Tier1({ nodes: [node], connect: () => node, quorum: { ensembleSize: 1, writeQuorum: 1, ackQuorum: 1 }, metadata });
  t.teardown(() => tier1.close());
  const link = new FakeLink();
  const start = (id: string) =>
    SegmentStore.start({
      host: "127.0.0.1",
      port: 0,
      advertisedHost: "localhost",
      storeId: id,
      claim: "none",
      containerCount: 2,
      cacheBytesMax: 64 << 20,
      loadWindowsMs: [1000, 5000],
      tier1,
      metadata,
      controller: link,
      heartbeat: { heartbeatMs: 50, reportMs: 50 },
    });
  const a = await start("ss-a");
  t.teardown(() => a.close());
  t.same(a.containers, [], "claim none takes nothing at start");
  t.ok(await until(() => link.heartbeats.length >= 2), "heartbeats flow");
  t.same(link.heartbeats[0], { storeId: "ss-a", host: "localhost", port: a.port, leaseId: "" });
  t.equal(link.heartbeats[1]?.leaseId, "7", "the next heartbeat carries the lease");

  const segment = "s/t/0.#epoch.0";
  const c = containerOf(segment, 2);
  await assignContainers(metadata, [c], "ss-a", 2);
  t.ok(await until(async () => (await readContainerOwner(metadata, c))?.store === "ss-a"), "the assigned container is taken over");
  const conn = await WireConnection.connect("127.0.0.1", a.port, { connectTimeoutMs: 5_000 });
  t.teardown(() => conn.close());
  await conn.request({ type: "CreateSegment", requestId: conn.nextRequestId(), segment }, "SegmentCreated", 10_000);
  t.same(a.segmentLoad().map((l) => [l.segment, l.eventsPerSec]), [[segment, [0, 0]]], "a new segment is tracked at rate 0");
  t.ok(await until(() => link.reports.some((r) => r.storeId === "ss-a" && r.segments.some((s) => s.segment === segment))), "and reported");
  t.same(link.reports.at(-1)?.windowsMs, [1000, 5000]);
  await conn.close();

  // Another store takes the container over: it reports the segment it found, before any append.
  const b = await start("ss-b");
  t.teardown(() => b.close());
  await assignContainers(metadata, [c], "ss-b", 2);
  t.ok(await until(async () => (await readContainerOwner(metadata, c))?.store === "ss-b"), "ss-b took the container over");
  t.ok(await until(() => b.segmentLoad().some((l) => l.segment === segment)), "ss-b tracks the segment it found");
  t.ok(await until(() => a.segmentLoad().length === 0), "ss-a forgot it when it let the container go");
  t.ok(await until(() => link.reports.some((r) => r.storeId === "ss-b" && r.segments.some((s) => s.segment === segment))), "ss-b reports it");

  await a.close();
  await b.close();
  const count = link.heartbeats.length;
  await new Promise((r) => setTimeout(r, 200));
  t.equal(link.heartbeats.length, count, "no heartbeat after close");
});
