#!/usr/bin/env node
/** The `sluice` command: roles (standalone) and client commands. */
import { setDirLockLostHandler, SluiceError } from "../common/index.js";
import { containerCommand, scopeCommand, streamCommand, writeCommand } from "./cli.js";
import { readCommand } from "./read-cli.js";
import { readerGroupCommand } from "./readergroup-cli.js";
import { logNodeHelp, startLogNode } from "./lognode.js";
import { controllerHelp, segmentStoreHelp, startController, startSegmentStore } from "./roles.js";
import { standaloneHelp, startStandalone } from "./standalone.js";

const roles = {
  standalone: { help: standaloneHelp, start: startStandalone },
  controller: { help: controllerHelp, start: startController },
  segmentstore: { help: segmentStoreHelp, start: startSegmentStore },
  lognode: { help: logNodeHelp, start: startLogNode },
};

const usage = `usage:
  sluice standalone [--data-dir DIR] [--host 127.0.0.1] [--controller-port 9090] [--segmentstore-port 12345]
  sluice controller --metadata file://DIR|etcd://HOST:PORT [--port 9090] [--containers 4] [--segmentstore tcp://HOST:PORT]
  sluice segmentstore [--data-dir DIR] [--port 12345] [--containers 4]
  sluice lognode --data-dir DIR [--port 3181] [--journal-file-bytes N]
  sluice scope create|list|delete NAME     [--controller tcp://127.0.0.1:9090[,...]]
  sluice stream create SCOPE/STREAM [--segments N] [--scaling fixed|byEventRate|byDataRate --target N
                --scale-factor N] [--retention-ms MS | --retention-bytes BYTES]
  sluice stream list SCOPE | info|seal|delete SCOPE/STREAM
  sluice write SCOPE/STREAM [--key K] [TEXT...]   (no TEXT: one event per stdin line)
  sluice read SCOPE/STREAM [--group SCOPE/GROUP] [--reader ID] [--from head|tail|CUT] [--to tail|CUT|none]
              [--count N] [--follow]   (one event per line; see sluice read --help)
  sluice readergroup create SCOPE/GROUP --streams SCOPE/STREAM[,...] [--from head|tail|CUT] [--to CUT]
  sluice readergroup info|delete SCOPE/GROUP
  sluice readergroup checkpoint SCOPE/GROUP NAME [--timeout-ms N]   (prints the cut; see sluice readergroup --help)
  sluice readergroup reset SCOPE/GROUP CUT...|head|tail
  sluice readergroup readeroffline SCOPE/GROUP READER
  sluice container assign --metadata URI --containers LIST|all --to STORE_ID [--container-count N]
  sluice container list --metadata URI      (file:// is read without changes, also while a controller runs on it)
CUT is a stream cut's text (sc1...), as sluice readergroup checkpoint and info print it.
Flags may also come from SLUICE_<FLAG> environment variables (e.g. SLUICE_CONTROLLER).`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case "standalone":
    case "controller":
    case "segmentstore":
    case "lognode": {
      const role = roles[command];
      if (rest.includes("--help")) {
        process.stdout.write(role.help + "\n");
        return;
      }
      // A role whose data-directory lock was taken over may share the directory with another writer now:
      // it stops at once (fail-stop; common/dir-lock.ts logged why) rather than write beside it.
      setDirLockLostHandler(() => process.exit(1));
      const s = await role.start(rest);
      const stop = () => {
        s.close().then(
          () => process.exit(0),
          (err: unknown) => {
            process.stderr.write(`error while stopping: ${String(err)}\n`);
            process.exit(1);
          },
        );
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      return;
    }
    case "scope":
      return scopeCommand(rest);
    case "stream":
      return streamCommand(rest);
    case "write":
      return writeCommand(rest);
    case "read":
      return readCommand(rest);
    case "readergroup":
      return readerGroupCommand(rest);
    case "container":
      return containerCommand(rest);
    case undefined:
    case "help":
    case "--help":
      process.stdout.write(usage + "\n");
      return;
    default:
      process.stderr.write(`unknown command ${command}\n${usage}\n`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof SluiceError) process.stderr.write(`sluice: ${err.code}: ${err.message}\n`);
  else process.stderr.write(`sluice: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
