// Proves segment store membership on an embedded metadata store with lease time from a ManualClock: heartbeats
// register a store under a lease and keep it alive (from any controller: the state is all in the store), a store that
// stops heartbeating leaves liveStores after its lease, an expired lease is replaced by a new one, registrations are
// bounded; and load reports: bad fields are INVALID_ARGUMENT naming the field, a report too large for one metadata
// value keeps its busiest segments, stale reports are left out, and the newest report of a segment wins.
import t, { type Test } from "tap";
import { loadReportSegmentsMax, ManualClock, metadataValueBytesMax, segmentStoresMax } from "../../common/index.js";
import type { ReportLoadRequest, SegmentLoadReport } from "../../proto/index.js";
import { FileMetadataStore } from "../store/index.js";
import { encodeLoadReport, loadKey, Membership, reportStaleMsDefault, storeKey } from "./membership.js";

const storeLeaseMs = 3_000;

async function open(t: Test): Promise<{ store: FileMetadataStore; clock: ManualClock; membership: Membership }> {
  const clock = new ManualClock();
  const store = await FileMetadataStore.open(t.testdir(), { clock });
  t.teardown(() => store.close());
  return { store, clock, membership: new Membership(store, { storeLeaseMs }, clock) };
}

/** Lets `ms` of lease time pass, then waits for the expiries it caused to be written. */
async function passTime(store: FileMetadataStore, clock: ManualClock, ms: number): Promise<void> {
  clock.advance(ms);
  await store.put("test/sync", Buffer.from("")); // queued behind any expiry
}

function codeOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  return p.then(
    () => ({ code: "none", message: "" }),
    (err: unknown) => ({ code: (err as { code?: string }).code ?? "none", message: (err as Error).message }),
  );
}

void t.test("heartbeats register a store under a lease; a silent store leaves after its lease", async (t) => {
  const { store, clock, membership } = await open(t);
  const first = await membership.heartbeat({ storeId: "ss-1", host: "10.0.0.1", port: 12345, leaseId: "" });
  t.ok(first.leaseId.length > 0, "a lease is granted");
  t.equal(first.leaseMs, storeLeaseMs);
  const second = await membership.heartbeat({ storeId: "ss-2", host: "10.0.0.2", port: 12345, leaseId: "" });
  t.same(await membership.liveStores(), new Map([["ss-1", { host: "10.0.0.1", port: 12345 }], ["ss-2", { host: "10.0.0.2", port: 12345 }]]));
  t.same(await membership.endpointOfStore("ss-1"), { host: "10.0.0.1", port: 12345 });

  // ss-1 heartbeats every second, through another controller too (state is all in the store); ss-2 goes silent.
  const other = new Membership(store, { storeLeaseMs }, clock);
  let lease = first.leaseId;
  for (let i = 0; i < 6; i++) {
    await passTime(store, clock, 1_000);
    const via = i % 2 === 0 ? membership : other;
    const r = await via.heartbeat({ storeId: "ss-1", host: "10.0.0.1", port: i < 3 ? 12345 : 23456, leaseId: lease });
    t.equal(r.leaseId, lease, "the same lease is kept alive");
    lease = r.leaseId;
  }
  t.same([...(await membership.liveStores()).keys()], ["ss-1"], "ss-2 is gone with its lease");
  t.same(await membership.endpointOfStore("ss-1"), { host: "10.0.0.1", port: 23456 }, "a changed endpoint is written again");
  t.equal(await membership.endpointOfStore("ss-2"), undefined);

  // ss-2 comes back with its expired lease: a new one is granted.
  const back = await membership.heartbeat({ storeId: "ss-2", host: "10.0.0.2", port: 12345, leaseId: second.leaseId });
  t.not(back.leaseId, second.leaseId, "LEASE_NOT_FOUND gives a new lease");
  t.equal((await store.get(storeKey("ss-2")))?.lease, back.leaseId);
  t.same([...(await membership.liveStores()).keys()], ["ss-1", "ss-2"]);

  // A registration whose key vanished (an operator deleted it) is written again by the next heartbeat.
  await store.delete(storeKey("ss-1"));
  await membership.heartbeat({ storeId: "ss-1", host: "10.0.0.1", port: 23456, leaseId: lease });
  t.same(await membership.endpointOfStore("ss-1"), { host: "10.0.0.1", port: 23456 });
});

void t.test("heartbeat validation, and the bound on registered stores", async (t) => {
  const { store, membership } = await open(t);
  const bad: [Parameters<Membership["heartbeat"]>[0], RegExp][] = [
    [{ storeId: "", host: "h", port: 1, leaseId: "" }, /store id is empty/],
    [{ storeId: "a/b", host: "h", port: 1, leaseId: "" }, /store id/],
    [{ storeId: "ss", host: "", port: 1, leaseId: "" }, /^host/],
    [{ storeId: "ss", host: "h", port: 0, leaseId: "" }, /^port/],
    [{ storeId: "ss", host: "h", port: 65536, leaseId: "" }, /^port/],
  ];
  for (const [req, message] of bad) t.match(await codeOf(membership.heartbeat(req)), { code: "INVALID_ARGUMENT", message }, JSON.stringify(req));
  t.same(await membership.liveStores(), new Map(), "nothing registered");

  const lease = await store.grantLease(60_000);
  for (let i = 0; i < segmentStoresMax; i += 100) {
    await store.txn([], Array.from({ length: 100 }, (_, j) => ({ type: "put" as const, key: storeKey(`s-${String(i + j).padStart(4, "0")}`), value: Buffer.from('{"host":"h","port":1}'), lease })));
  }
  t.match(await codeOf(membership.heartbeat({ storeId: "one-too-many", host: "h", port: 1, leaseId: "" })), { code: "OVERLOADED" });
  const again = await membership.heartbeat({ storeId: "s-0007", host: "h", port: 2, leaseId: "" });
  t.ok(again.leaseId.length > 0, "a registered store may register again at the bound");
});

function report(segments: SegmentLoadReport[], windowsMs = [1000, 5000]): ReportLoadRequest {
  return { storeId: "ss-1", windowsMs, segments };
}

function seg(name: string, rate: number, trackedMs = 10_000): SegmentLoadReport {
  return { segment: name, eventsPerSec: [rate, rate / 2], bytesPerSec: [rate * 100, rate * 50], trackedMs };
}

void t.test("load report validation names the field", async (t) => {
  const { membership } = await open(t);
  const cases: [ReportLoadRequest, RegExp][] = [
    [{ ...report([]), storeId: "" }, /store id/],
    [report([], []), /^windowsMs: give 1 to 8/],
    [report([], [1000, 1000]), /^windowsMs\[1\]/],
    [report([], [0]), /^windowsMs\[0\]/],
    [report([], [1.5]), /^windowsMs\[0\]/],
    [report([seg("", 1)]), /^segments\[0\]\.segment/],
    [report([seg("a", 1), { ...seg("b", 1), eventsPerSec: [1] }]), /^segments\[1\]\.eventsPerSec: needs one rate per window \(2\), got 1/],
    [report([{ ...seg("a", 1), bytesPerSec: [1, 2, 3] }]), /^segments\[0\]\.bytesPerSec/],
    [report([{ ...seg("a", 1), eventsPerSec: [1, -1] }]), /^segments\[0\]\.eventsPerSec\[1\]: -1 is not a finite number >= 0/],
    [report([{ ...seg("a", 1), bytesPerSec: [NaN, 1] }]), /^segments\[0\]\.bytesPerSec\[0\]: NaN/],
    [report([{ ...seg("a", 1), eventsPerSec: [Infinity, 1] }]), /^segments\[0\]\.eventsPerSec\[0\]: Infinity/],
    [report([seg("a", 1, -5)]), /^segments\[0\]\.trackedMs/],
    [report(Array.from({ length: loadReportSegmentsMax + 1 }, (_, i) => seg(`s${i}`, 1))), /^segments: at most 4000/],
  ];
  for (const [req, message] of cases) t.match(await codeOf(membership.reportLoad(req)), { code: "INVALID_ARGUMENT", message }, String(message));
  t.same(await membership.loadReports(), new Map(), "nothing stored");
});

void t.test("reports: stored, stale ones left out, the newest report of a segment wins, too large keeps the busiest", async (t) => {
  const { store, clock, membership } = await open(t);
  await membership.heartbeat({ storeId: "ss-1", host: "h", port: 1, leaseId: "" });
  await membership.reportLoad(report([seg("x/y/0.#epoch.0", 10), seg("x/y/1.#epoch.0", 0, 0)]));
  t.equal((await store.get(loadKey("ss-1")))?.lease, (await store.get(storeKey("ss-1")))?.lease, "attached to the store's lease");
  const loads = await membership.loadReports();
  t.same(loads.get("x/y/0.#epoch.0"), { ...seg("x/y/0.#epoch.0", 10), windowsMs: [1000, 5000], receivedAtMs: clock.nowMs() });
  t.equal(loads.get("x/y/1.#epoch.0")?.eventsPerSec[0], 0, "a cold segment is reported with rate 0");

  // A second store reports segment 0 later (its container moved there): its report wins.
  clock.advance(1000);
  await t.rejects(membership.reportLoad({ ...report([seg("x/y/0.#epoch.0", 99)]), storeId: "ss-2" }), { code: "LEASE_NOT_FOUND" }, "an unregistered store's report is refused");
  t.equal(await store.get(loadKey("ss-2")), undefined, "and stores nothing");
  await membership.heartbeat({ storeId: "ss-2", host: "h", port: 2, leaseId: "" });
  await membership.reportLoad({ ...report([seg("x/y/0.#epoch.0", 99)]), storeId: "ss-2" });
  t.equal((await membership.loadReports()).get("x/y/0.#epoch.0")?.eventsPerSec[0], 99);

  // ss-1's report goes stale (no keepAlive here, so its lease has ended too).
  await passTime(store, clock, reportStaleMsDefault + 1);
  t.same(await membership.loadReports(), new Map(), "every report is stale now");

  // Too large for one value: the busiest segments are kept.
  const long = "s/".padEnd(900, "x");
  const many = Array.from({ length: 2_000 }, (_, i) => seg(`${long}/${String(i).padStart(4, "0")}`, i));
  const { value, kept } = encodeLoadReport(report(many), clock.nowMs());
  t.ok(value.length <= metadataValueBytesMax, `${value.length} bytes fit a value`);
  t.ok(kept > 500 && kept < 2_000, `kept ${kept} of 2000`);
  await membership.heartbeat({ storeId: "ss-1", host: "h", port: 1, leaseId: "" });
  await membership.reportLoad(report(many));
  const stored = await membership.loadReports();
  t.equal(stored.size, kept);
  t.ok(stored.has(`${long}/1999`) && !stored.has(`${long}/0000`), "the busiest stay, the quietest go");
});
