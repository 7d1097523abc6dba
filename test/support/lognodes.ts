/**
 * Real `sluice lognode` processes for the Tier-1 process tests: N nodes on free 127.0.0.1 ports,
 * each with its own data folder; faults by signal (SIGKILL, SIGSTOP, SIGCONT); a restart on the
 * same port and folder; and Tier1 instances over RemoteLogNodes with short timeouts, so that a
 * test of node loss takes seconds. Teardown continues stopped nodes, then kills every node by pid,
 * and closes every Tier1 made here. A node never outlives the test process (killed on 'exit').
 */
import type { Test } from "tap";
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { freePorts, SluiceError } from "../../common/index.js";
import type { MetadataStore } from "../../controller/store/index.js";
import { startSluiceProcess, type SluiceProcess } from "../../perf/support/standalone-process.js";
import type { QuorumConfig } from "../../segmentstore/tier1/ledger/quorum.js";
import type { LogNodeApi } from "../../segmentstore/tier1/log-node-api.js";
import { RemoteLogNode, type RemoteLogNodeOptions } from "../../segmentstore/tier1/remote-log-node.js";
import { Tier1, type Tier1Options } from "../../segmentstore/tier1/tier1.js";

/** Short client timeouts: a dead or stopped node is noticed within about a second. */
export const testRequestTimeoutMs = 1_000;
export const testConnectTimeoutMs = 1_000;
const testRetryMs = 50;
const testProbeTimeoutMs = 300;
const testOpenDeadlineMs = 15_000;
const testCloseWaitMs = 1_000;
/** How often a port picked free a moment ago may turn out taken before the start gives up. */
const startAttemptsMax = 3;

/** Pids of every running node, killed if the test process exits without its teardown. */
const livePids = new Set<number>();
process.once("exit", () => {
  for (const pid of livePids) {
    try {
      process.kill(pid, "SIGCONT");
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone: nothing left to clean up for this pid.
      livePids.delete(pid);
    }
  }
});

export class LogNodeProcess {
  readonly address: string;
  private proc: SluiceProcess | undefined;
  private paused = false;
  /** stderr of earlier lives, so a test can look at what any life reported. */
  private pastStderr = "";

  constructor(
    readonly index: number,
    readonly port: number,
    readonly dataDir: string,
    private readonly extraArgs: readonly string[],
  ) {
    this.address = `127.0.0.1:${port}`;
  }

  get running(): boolean {
    return this.proc !== undefined;
  }

  /** Starts the node (again) on its port and data folder; resolves once it printed its ready line. */
  async start(): Promise<void> {
    if (this.proc !== undefined) throw new Error(`log node ${this.address} is already running`);
    const proc = await startSluiceProcess("lognode", ["--data-dir", this.dataDir, "--port", String(this.port), ...this.extraArgs]);
    if (!proc.readyLine.includes(`tcp://${this.address}`)) {
      await proc.kill();
      throw new Error(`log node ${this.index}: unexpected ready line: ${proc.readyLine}`);
    }
    this.proc = proc;
    this.paused = false;
    const pid = proc.proc.pid;
    if (pid !== undefined) livePids.add(pid);
  }

  /** Everything the node wrote to stderr, over all its lives. */
  stderr(): string {
    return this.pastStderr + (this.proc?.stderr() ?? "");
  }

  /** stderr of the current (or last) life only. */
  currentStderr(): string {
    return this.proc?.stderr() ?? "";
  }

  /** SIGKILL, and wait for the exit. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (proc === undefined) return;
    // A stopped process dies of SIGKILL too; SIGCONT first so nothing is left pending on it.
    if (this.paused) this.resume();
    await proc.kill();
    const pid = proc.proc.pid;
    if (pid !== undefined) livePids.delete(pid);
    this.pastStderr += proc.stderr();
    this.proc = undefined;
  }

  /** SIGSTOP: the node keeps its sockets but answers nothing until resume(). */
  pause(): void {
    this.signal("SIGSTOP");
    this.paused = true;
  }

  /** SIGCONT. */
  resume(): void {
    this.signal("SIGCONT");
    this.paused = false;
  }

  /** SIGKILL if running, then start again on the same port and data folder. */
  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  /** Names of the journal files in the node's data folder, sorted. */
  async journalFiles(): Promise<string[]> {
    return (await readdir(this.dataDir)).filter((n) => /^journal-\d+\.log$/.test(n)).sort();
  }

  /** A new client of this node (the caller closes it). */
  remote(opts: RemoteLogNodeOptions = {}): RemoteLogNode {
    return new RemoteLogNode("127.0.0.1", this.port, { requestTimeoutMs: testRequestTimeoutMs, connectTimeoutMs: testConnectTimeoutMs, ...opts });
  }

  private signal(sig: NodeJS.Signals): void {
    const pid = this.proc?.proc.pid;
    if (pid === undefined) throw new Error(`log node ${this.address} is not running`);
    process.kill(pid, sig);
  }
}

export interface StartLogNodesOptions {
  /** `--journal-file-bytes` for every node. */
  journalFileBytes?: number;
}

export interface Tier1TestOptions extends Partial<Omit<Tier1Options, "nodes" | "connect" | "metadata">> {
  metadata: MetadataStore;
  /** Per-request deadline of the node clients (testRequestTimeoutMs by default). */
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Wraps each node client, e.g. to record what a node acknowledged. */
  wrap?: (node: LogNodeApi) => LogNodeApi;
}

export interface LogNodeCluster {
  nodes: LogNodeProcess[];
  /** A folder of the test (the nodes' data folders are inside it), for other files such as metadata. */
  dir: string;
  /** A Tier1 over clients of every node (3/3/2 by default; fewer nodes: E = Qw = count, Qa = min(2, count)). */
  tier1(opts: Tier1TestOptions): Tier1;
}

/** Starts `count` log nodes; the test's teardown kills them and closes every Tier1 made. */
export async function startLogNodes(t: Test, count: number, opts: StartLogNodesOptions = {}): Promise<LogNodeCluster> {
  const root = t.testdir();
  const extra = opts.journalFileBytes === undefined ? [] : ["--journal-file-bytes", String(opts.journalFileBytes)];
  const nodes: LogNodeProcess[] = [];
  const tier1s: Tier1[] = [];
  // Registered first, so it runs even if a start below fails.
  t.teardown(async () => {
    await Promise.all(tier1s.map((x) => x.close()));
    await Promise.all(nodes.map((n) => n.kill()));
  });
  for (let i = 0; i < count; i++) {
    const dataDir = join(root, `node-${i}`);
    await mkdir(dataDir, { recursive: true });
    for (let attempt = 1; ; attempt++) {
      const [port] = await freePorts(1);
      if (port === undefined) throw new Error("freePorts gave no port");
      const node = new LogNodeProcess(i, port, dataDir, extra);
      try {
        await node.start();
        nodes.push(node);
        break;
      } catch (err) {
        // Another process may have taken the port between freePorts and the node's listen.
        if (attempt >= startAttemptsMax || !(err instanceof Error) || !/EADDRINUSE/.test(err.message)) throw err;
      }
    }
  }
  return {
    nodes,
    dir: root,
    tier1(o: Tier1TestOptions): Tier1 {
      const clientOpts = { requestTimeoutMs: o.requestTimeoutMs ?? testRequestTimeoutMs, connectTimeoutMs: o.connectTimeoutMs ?? testConnectTimeoutMs };
      const wrap = o.wrap ?? ((n: LogNodeApi) => n);
      const quorum: QuorumConfig = o.quorum ?? { ensembleSize: Math.min(3, count), writeQuorum: Math.min(3, count), ackQuorum: Math.min(2, count) };
      const { metadata, requestTimeoutMs: _r, connectTimeoutMs: _c, wrap: _w, ...rest } = o;
      const tier1 = new Tier1({
        retryMs: testRetryMs,
        probeTimeoutMs: testProbeTimeoutMs,
        openDeadlineMs: testOpenDeadlineMs,
        closeWaitMs: testCloseWaitMs,
        ...rest,
        quorum,
        metadata,
        nodes: nodes.map((n) => wrap(n.remote(clientOpts))),
        connect: (address) => {
          const [host, port] = address.split(":");
          return wrap(new RemoteLogNode(host ?? "127.0.0.1", Number(port), clientOpts));
        },
      });
      tier1s.push(tier1);
      return tier1;
    },
  };
}

/** Polls `check` every 50 ms until it holds or `timeoutMs` passes; answers whether it held. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Every entry of `ledger` from `first` on that the node holds, reading `maxBytes` at a time until NO_SUCH_ENTRY. */
export async function readNodeEntries(node: LogNodeApi, ledger: number, first = 0, maxBytes = 8 * 1024 * 1024): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (;;) {
    try {
      out.push(...(await node.readEntries(ledger, first + out.length, maxBytes)));
    } catch (err) {
      if (err instanceof SluiceError && err.code === "NO_SUCH_ENTRY") return out;
      throw err;
    }
  }
}
