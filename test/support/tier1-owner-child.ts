/**
 * Child process of test/tier1-fencing.test.ts: owner "A" of a container's Tier-1 log, a process
 * that can be SIGSTOPped while a newer owner takes the log over (a zombie owner).
 *
 * Args: etcd URL, log node addresses (HOST:PORT,HOST:PORT,...), container id. Opens the log at
 * 3/3/2 over the nodes (prints `open EPOCH`), then takes commands on stdin, one a line:
 * - `stream W`: appends entries continuously, W in flight, until one fails;
 * - `round N`: appends N entries at once.
 * Entries are `A-i`, i counting on across commands; each prints `ack i ADDRESS` or `fail i CODE`
 * as it settles, and the command prints `done` once all its appends have settled. `exit` (or the
 * end of stdin) closes the log and exits.
 */
import { createInterface } from "node:readline";
import { toSluiceError } from "../../common/index.js";
import { EtcdMetadataStore } from "../../controller/store/index.js";
import { RemoteLogNode } from "../../segmentstore/tier1/remote-log-node.js";
import { Tier1 } from "../../segmentstore/tier1/tier1.js";

const [etcdUrl, addressList, containerArg] = process.argv.slice(2);
if (etcdUrl === undefined || addressList === undefined || containerArg === undefined) {
  throw new Error("usage: tier1-owner-child ETCD_URL HOST:PORT,... CONTAINER");
}

// A long request timeout, so that what stops this owner is the fence, not its own timers, which
// fire at once when the process continues after a long SIGSTOP.
const clientOpts = { requestTimeoutMs: 10_000, connectTimeoutMs: 1_000 };
const remote = (address: string): RemoteLogNode => {
  const [host, port] = address.split(":");
  return new RemoteLogNode(host ?? "127.0.0.1", Number(port), clientOpts);
};
const metadata = await EtcdMetadataStore.connect(etcdUrl);
const tier1 = new Tier1({
  nodes: addressList.split(",").map(remote),
  connect: remote,
  quorum: { ensembleSize: 3, writeQuorum: 3, ackQuorum: 2 },
  metadata,
  retryMs: 50,
  probeTimeoutMs: 300,
  openDeadlineMs: 15_000,
  closeWaitMs: 1_000,
});
const log = await tier1.openLog(Number(containerArg));
process.stdout.write(`open ${log.epoch}\n`);

let next = 0;
/** Appends the next entry and prints its outcome; resolves true if it was acknowledged. */
function appendNext(): Promise<boolean> {
  const i = next++;
  return log.append([Buffer.from(`A-${i}`)]).then(
    (address) => {
      process.stdout.write(`ack ${i} ${address}\n`);
      return true;
    },
    (err: unknown) => {
      process.stdout.write(`fail ${i} ${toSluiceError(err).code}\n`);
      return false;
    },
  );
}

async function round(count: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, appendNext));
  process.stdout.write("done\n");
}

async function stream(window: number): Promise<void> {
  let failed = false;
  // W lanes, each appending one entry after the other until some append fails.
  const lane = async (): Promise<void> => {
    while (!failed) if (!(await appendNext())) failed = true;
  };
  await Promise.all(Array.from({ length: window }, lane));
  process.stdout.write("done\n");
}

for await (const line of createInterface({ input: process.stdin })) {
  const [command, arg] = line.trim().split(" ");
  if (command === "exit") break;
  if (command === "round") await round(Number(arg));
  if (command === "stream") await stream(Number(arg));
}
await log.close();
await tier1.close();
await metadata.close();
