/**
 * A cluster of real processes for controller tests: a real etcd, one `sluice lognode` (Tier-1 at
 * 1/1/1), controllers (`sluice controller` on etcd, short leases and loop intervals so a test sees
 * scaling, placement and failover in seconds), and segment stores that register with the
 * controllers and share one filesystem Tier-2 folder (or the S3 bucket a test passes in their args).
 * Controllers start first: stores are given every controller's address.
 */
import type { Test } from "tap";
import { openMetadataStore, readAssignments, readContainerOwner, type MetadataStore } from "../../controller/index.js";
import { startEtcd, type EtcdServer } from "../../controller/store/etcd-server.js";
import { freePorts } from "../../common/index.js";
import { startSluiceProcess, type SluiceProcess } from "../../perf/support/standalone-process.js";
import { eventually } from "./lognodes.js";

/** Loop intervals and leases short enough for a test, long enough for a loaded 2-core machine. */
export const fastControllerArgs = [
  "--store-lease-ms", "3000",
  "--leader-lease-ms", "3000",
  "--placement-interval-ms", "300",
  "--scale-interval-ms", "500",
  "--scale-cooldown-ms", "2000",
  "--retention-interval-ms", "500",
];
export const fastStoreArgs = ["--heartbeat-ms", "300", "--load-report-ms", "500", "--load-windows-ms", "1000,2000,3000,4000"];

export interface RoleProcess {
  proc: SluiceProcess;
  port: number;
}

export interface ControlCluster {
  dir: string;
  etcd: EtcdServer;
  metadata: MetadataStore;
  containerCount: number;
  controllers: Map<string, RoleProcess & { uri: string }>;
  stores: Map<string, RoleProcess>;
  /** Every controller's address, comma-separated (what stores and the CLI are given). */
  controllerList(): string;
  startController(id: string, extra?: readonly string[], env?: NodeJS.ProcessEnv): Promise<RoleProcess & { uri: string }>;
  startStore(id: string, extra?: readonly string[]): Promise<RoleProcess>;
  /** The id of the controller holding the leader key, if any. */
  leader(): Promise<string | undefined>;
  /**
   * Waits until every container is owned by a store of `among`, as assigned, and spread evenly
   * (counts differ by at most one): the placement may take a tick or two to balance.
   */
  settled(among: readonly string[], timeoutMs?: number): Promise<Map<number, string>>;
}

export async function startControlCluster(t: Test, options: { containerCount?: number; lognodeArgs?: readonly string[] } = {}): Promise<ControlCluster> {
  const containerCount = options.containerCount ?? 4;
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
  const controllers = new Map<string, RoleProcess & { uri: string }>();
  const stores = new Map<string, RoleProcess>();
  const cluster: ControlCluster = {
    dir,
    etcd,
    metadata,
    containerCount,
    controllers,
    stores,
    controllerList: () => [...controllers.values()].map((c) => c.uri).join(","),
    async startController(id, extra = [], env = {}) {
      const [port] = (await freePorts(1)) as [number];
      const args = ["--id", id, "--metadata", etcd.url, "--port", String(port), "--containers", String(containerCount), ...fastControllerArgs, ...extra];
      const proc = await startSluiceProcess("controller", args, env);
      procs.push(proc);
      const c = { proc, port, uri: `tcp://127.0.0.1:${port}` };
      controllers.set(id, c);
      return c;
    },
    async startStore(id, extra = []) {
      const [port] = (await freePorts(1)) as [number];
      const args = ["--data-dir", `${dir}/store-${id}`, "--port", String(port), "--id", id, "--metadata", etcd.url, "--containers", String(containerCount)];
      args.push("--tier1", `127.0.0.1:${lognodePort}`, "--ensemble", "1", "--write-quorum", "1", "--ack-quorum", "1", "--log-request-timeout-ms", "2000");
      args.push("--tier2", `file://${dir}/tier2`, "--controller", cluster.controllerList(), ...fastStoreArgs, ...extra);
      const proc = await startSluiceProcess("segmentstore", args);
      procs.push(proc);
      const s = { proc, port };
      stores.set(id, s);
      return s;
    },
    async leader() {
      const kv = await metadata.get("controller/leader");
      return kv === undefined ? undefined : (JSON.parse(kv.value.toString("utf8")) as { id: string }).id;
    },
    async settled(among, timeoutMs = 30_000) {
      const owners = new Map<number, string>();
      const ok = await eventually(async () => {
        const { assignments } = await readAssignments(metadata, containerCount);
        for (let c = 0; c < containerCount; c++) {
          const owner = await readContainerOwner(metadata, c);
          if (owner === undefined || !among.includes(owner.store) || assignments.get(c) !== owner.store) return false;
          owners.set(c, owner.store);
        }
        const counts = among.map((id) => [...owners.values()].filter((s) => s === id).length);
        return Math.max(...counts) - Math.min(...counts) <= 1;
      }, timeoutMs);
      if (!ok) throw new Error(`containers did not settle on ${among.join(",")} within ${timeoutMs} ms`);
      return owners;
    },
  };
  return cluster;
}
