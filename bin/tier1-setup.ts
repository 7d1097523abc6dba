/**
 * Tier-1 for the roles that run containers: either the log nodes named by `--tier1` (with the
 * quorum flags), or, without `--tier1`, one log node inside this process on a local directory at
 * ensemble 1, write quorum 1, ack quorum 1 (the standalone default).
 */
import { join } from "node:path";
import { InvalidConfigError, ledgerRolloverBytesDefault, logNodeRequestTimeoutMs, MiB } from "../common/index.js";
import type { MetadataStore } from "../controller/store/index.js";
import { Tier1, type LogNodeApi, type QuorumConfig } from "../segmentstore/index.js";
import { LedgerStorage } from "../segmentstore/tier1/lognode/ledger-storage.js";
import { RemoteLogNode } from "../segmentstore/tier1/remote-log-node.js";

export const tier1Options = {
  tier1: { kind: "string", default: "", help: "log nodes HOST:PORT,HOST:PORT,... (empty: one log node in this process, under the data directory)" },
  ensemble: { kind: "int", default: 0, min: 0, max: 64, help: "log nodes per ledger (0: min(3, nodes))" },
  "write-quorum": { kind: "int", default: 0, min: 0, max: 64, help: "log nodes each entry is written to (0: the ensemble)" },
  "ack-quorum": { kind: "int", default: 0, min: 0, max: 64, help: "log nodes that must have an entry durable before it is acknowledged (0: min(2, write quorum))" },
  "log-request-timeout-ms": { kind: "int", default: logNodeRequestTimeoutMs, min: 100, max: 600_000, help: "deadline of one request to a log node; a node that misses it is dropped from the ledger" },
  "log-rollover-bytes": { kind: "int", default: ledgerRolloverBytesDefault, min: MiB, max: 64 * 1024 * MiB, help: "a container log moves to a new ledger after this many bytes (truncation frees whole ledgers)" },
} as const;

export interface Tier1Flags {
  tier1: string;
  ensemble: number;
  "write-quorum": number;
  "ack-quorum": number;
  "log-request-timeout-ms": number;
  "log-rollover-bytes": number;
}

function parseNode(spec: string, requestTimeoutMs: number): RemoteLogNode {
  const m = /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(spec);
  if (m === null || Number(m[2]) > 65535 || Number(m[2]) === 0) {
    throw new InvalidConfigError(`--tier1: "${spec}" is not HOST:PORT (e.g. 127.0.0.1:3181)`);
  }
  return new RemoteLogNode(m[1]!, Number(m[2]), { requestTimeoutMs });
}

/** The quorum from the flags, 0 meaning the default for that many nodes. */
export function quorumFor(flags: Tier1Flags, nodeCount: number): QuorumConfig {
  const ensembleSize = flags.ensemble || Math.min(3, nodeCount);
  const writeQuorum = flags["write-quorum"] || ensembleSize;
  const ackQuorum = flags["ack-quorum"] || Math.min(2, writeQuorum);
  return { ensembleSize, writeQuorum, ackQuorum };
}

/**
 * The address ledgers record for the in-process log node. It names no path: which data the node
 * holds is its cookie's instance id (checked against each ledger's), so a data directory moved or
 * restored elsewhere still serves its ledgers.
 */
export const localLogNodeAddress = "local:lognode";

/** Opens Tier-1 for a role; `localDir` holds the in-process log node's journal when `--tier1` is empty. */
export async function openTier1(flags: Tier1Flags, metadata: MetadataStore, localDir: string): Promise<Tier1> {
  const timeout = flags["log-request-timeout-ms"];
  let local: LogNodeApi | undefined;
  const connect = (address: string): LogNodeApi => {
    if (address.startsWith("local:")) {
      // Ledgers written before addresses lost their path name it (`local:/old/path/lognode`): the
      // one in-process node is meant, wherever the directory is now; its cookie says whether it
      // still holds their data.
      if (local !== undefined) return local;
      throw new InvalidConfigError(
        `a ledger lives on the in-process log node of a standalone (${address}), and this process uses the log nodes of --tier1 instead; ` +
          `serve that data directory with \`sluice standalone --data-dir DIR\` (or a segment store without --tier1)`,
      );
    }
    return parseNode(address, timeout);
  };
  let nodes: LogNodeApi[];
  if (flags.tier1 === "") {
    if (flags.ensemble > 1 || flags["write-quorum"] > 1 || flags["ack-quorum"] > 1) {
      throw new InvalidConfigError("--ensemble, --write-quorum and --ack-quorum above 1 need log nodes: name them with --tier1 HOST:PORT,...");
    }
    local = await LedgerStorage.open(join(localDir, "lognode"), { address: localLogNodeAddress });
    nodes = [local];
  } else {
    const specs = flags.tier1.split(",").map((s) => s.trim());
    if (new Set(specs).size !== specs.length) throw new InvalidConfigError(`--tier1 ${flags.tier1}: a log node is named twice`);
    nodes = specs.map((s) => parseNode(s, timeout));
  }
  try {
    return new Tier1({ nodes, connect, quorum: quorumFor(flags, nodes.length), metadata, rolloverBytes: flags["log-rollover-bytes"] });
  } catch (err) {
    await Promise.all(nodes.map((n) => n.close()));
    throw err;
  }
}
