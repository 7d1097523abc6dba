/**
 * `sluice lognode`: a Tier-1 log node (a replica of container logs' ledgers, like a BookKeeper
 * bookie). It keeps ledger entries in a journal under `--data-dir` and serves them to segment
 * stores over the wire protocol (proto/wire/wire.md, "Log node frames").
 */
import { resolve } from "node:path";
import { describeOptions, journalFileBytesMax, journalFileBytesMin, logger, logNodeConnectionsMax, logNodeConnectionsPerPeerMaxDefault, logNodeIdleTimeoutMsDefault, parseConfig, systemClock, type OptionSpecs } from "../common/index.js";
import { LedgerStorage } from "../segmentstore/tier1/lognode/ledger-storage.js";
import { LogNodeServer } from "../segmentstore/tier1/lognode/log-node-server.js";
import { connectionLimits, connectionOptions, hostSpec } from "./role-options.js";
import type { Role } from "./roles.js";

const log = logger("lognode");

export const logNodeOptions = {
  "data-dir": { kind: "string", default: "./sluice-data/lognode", help: "directory for the ledger journal" },
  host: hostSpec,
  port: { kind: "int", default: 3181, min: 0, max: 65535, help: "log node port" },
  "journal-file-bytes": {
    kind: "int",
    default: journalFileBytesMax,
    min: journalFileBytesMin,
    // The journal's own ceiling (journal.ts): 1 TiB.
    max: 2 ** 40,
    help: "journal file size at which a new file is begun",
  },
  ...connectionOptions({ connectionsMax: logNodeConnectionsMax, connectionsPerPeerMax: logNodeConnectionsPerPeerMaxDefault, idleTimeoutMs: logNodeIdleTimeoutMsDefault }),
} satisfies OptionSpecs;

export const logNodeHelp = `sluice lognode [options]\n${describeOptions(logNodeOptions)}`;

export async function startLogNode(argv: readonly string[]): Promise<Role> {
  const { config } = parseConfig(logNodeOptions, argv);
  const dataDir = resolve(config["data-dir"]);
  const limits = connectionLimits(config);
  const storage = await LedgerStorage.open(dataDir, { fileBytesMax: config["journal-file-bytes"] });
  let server: LogNodeServer;
  try {
    server = await LogNodeServer.listen(storage, config.host, config.port, systemClock, limits);
  } catch (err) {
    await storage.close();
    throw err;
  }
  log.info("log node is up", { dataDir });
  // One line on stdout that people and scripts can rely on.
  process.stdout.write(`sluice lognode ready: tcp://${config.host}:${server.port} data ${dataDir}\n`);
  return {
    async close() {
      // The server first, so no request reaches a closed storage.
      await server.close();
      await storage.close();
    },
  };
}
