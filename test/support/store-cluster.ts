/**
 * A small cluster of real processes for segment-store tests: a real etcd, one `sluice lognode`,
 * segment stores started by id (`sluice segmentstore --id ID`, Tier-1 at 1/1/1 on the log node,
 * metadata on etcd), and optionally a controller. The test's own metadata client talks to the same
 * etcd, so it can assign containers and watch owner records; a raw wire client talks to any store.
 */
import type { Test } from "tap";
import { openMetadataStore, readContainerOwner, assignContainers, type MetadataStore } from "../../controller/index.js";
import { startEtcd, type EtcdServer } from "../../controller/store/etcd-server.js";
import { containerOf, freePorts } from "../../common/index.js";
import { WireConnection, encodeEvents, type FrameOf } from "../../proto/index.js";
import { startSluiceProcess, type SluiceProcess } from "../../perf/support/standalone-process.js";
import { eventually } from "./lognodes.js";

export interface StoreCluster {
  /** The cluster's folder: the log node's journal is under `lognode/`. */
  dir: string;
  etcd: EtcdServer;
  metadata: MetadataStore;
  containerCount: number;
  stores: Map<string, { proc: SluiceProcess; port: number }>;
  controllerUri: string | undefined;
  startStore(id: string, extra?: readonly string[]): Promise<{ proc: SluiceProcess; port: number }>;
  startController(fallbackStore: string): Promise<string>;
  /** Assigns `containers` to store `id` and waits until `id` has recorded itself as their owner. */
  moveContainers(containers: readonly number[], id: string, timeoutMs?: number): Promise<void>;
  ownerOf(container: number): Promise<string | undefined>;
  /** A raw data-plane connection to store `id`. */
  connect(id: string): Promise<WireConnection>;
}

export async function startStoreCluster(t: Test, containerCount = 4, options: { lognodeArgs?: readonly string[] } = {}): Promise<StoreCluster> {
  const dir = t.testdir();
  const etcd = await startEtcd();
  t.teardown(() => etcd.stop());
  const metadata = await openMetadataStore(etcd.url);
  const procs: SluiceProcess[] = [];
  t.teardown(async () => {
    for (const p of procs) await p.kill();
    await metadata.close();
  });
  const [lognodePort] = (await freePorts(1)) as [number];
  procs.push(await startSluiceProcess("lognode", ["--data-dir", `${dir}/lognode`, "--port", String(lognodePort), ...(options.lognodeArgs ?? [])]));
  const stores = new Map<string, { proc: SluiceProcess; port: number }>();
  const cluster: StoreCluster = {
    dir,
    etcd,
    metadata,
    containerCount,
    stores,
    controllerUri: undefined,
    async startStore(id, extra = []) {
      const [port] = (await freePorts(1)) as [number];
      const args = ["--data-dir", `${dir}/store-${id}`, "--port", String(port), "--id", id, "--metadata", etcd.url, "--containers", String(containerCount)];
      args.push("--tier1", `127.0.0.1:${lognodePort}`, "--ensemble", "1", "--write-quorum", "1", "--ack-quorum", "1", "--log-request-timeout-ms", "2000", ...extra);
      const proc = await startSluiceProcess("segmentstore", args);
      procs.push(proc);
      const s = { proc, port };
      stores.set(id, s);
      return s;
    },
    async startController(fallbackStore) {
      const [port] = (await freePorts(1)) as [number];
      const fallback = stores.get(fallbackStore);
      if (fallback === undefined) throw new Error(`no store ${fallbackStore}`);
      const args = ["--metadata", etcd.url, "--port", String(port), "--containers", String(containerCount), "--segmentstore", `tcp://127.0.0.1:${fallback.port}`];
      procs.push(await startSluiceProcess("controller", args));
      cluster.controllerUri = `tcp://127.0.0.1:${port}`;
      return cluster.controllerUri;
    },
    async moveContainers(containers, id, timeoutMs = 30_000) {
      await assignContainers(metadata, containers, id, containerCount);
      const moved = await eventually(async () => {
        for (const c of containers) if ((await cluster.ownerOf(c)) !== id) return false;
        return true;
      }, timeoutMs);
      if (!moved) throw new Error(`containers ${containers.join(",")} did not move to ${id} within ${timeoutMs} ms`);
    },
    async ownerOf(container) {
      return (await readContainerOwner(metadata, container))?.store;
    },
    async connect(id) {
      const s = stores.get(id);
      if (s === undefined) throw new Error(`no store ${id}`);
      return WireConnection.connect("127.0.0.1", s.port, { connectTimeoutMs: 5_000 });
    },
  };
  return cluster;
}

/** A segment name of `scope/stream` whose container is `container` (searching segment numbers). */
export function segmentInContainer(scopeStream: string, container: number, containerCount: number): string {
  for (let n = 0; n < 10_000; n++) {
    const name = `${scopeStream}/${n}.#epoch.0`;
    if (containerOf(name, containerCount) === container) return name;
  }
  throw new Error(`no segment of ${scopeStream} lands in container ${container}`);
}

/** Events `first..last` of a test writer as one block: each event is its own number in decimal. */
export function numberedEvents(first: number, last: number): Buffer {
  const events: Buffer[] = [];
  for (let i = first; i <= last; i++) events.push(Buffer.from(String(i)));
  return encodeEvents(events);
}

/** Sends events `first..last` of `writerId` to `segment` as one AppendBlock; resolves with the reply. */
export function appendBlock(conn: WireConnection, writerId: Buffer, segment: string, first: number, last: number, timeoutMs = 10_000): Promise<FrameOf<"DataAppended">> {
  return conn.request(
    { type: "AppendBlock", requestId: conn.nextRequestId(), writerId, segment, lastEventNumber: last, eventCount: last - first + 1, data: numberedEvents(first, last) },
    "DataAppended",
    timeoutMs,
  );
}

/** Every event of `segment` read from `conn`, as numbers (events written by numberedEvents). */
export async function readNumbers(conn: WireConnection, segment: string): Promise<number[]> {
  const out: number[] = [];
  let offset = 0;
  let carry: Buffer = Buffer.alloc(0);
  for (;;) {
    const r = await conn.request({ type: "ReadSegment", requestId: conn.nextRequestId(), segment, offset, maxBytes: 1 << 20, waitMs: 0 }, "SegmentRead", 10_000);
    let buf = carry.length > 0 ? Buffer.concat([carry, r.data]) : r.data;
    while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
      const n = buf.readUInt32BE(0);
      out.push(Number(buf.subarray(4, 4 + n).toString("utf8")));
      buf = buf.subarray(4 + n);
    }
    carry = buf;
    offset += r.data.length;
    if (r.atTail) return out;
  }
}
