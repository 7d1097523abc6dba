#!/usr/bin/env node
/** The `sluice` command: roles (standalone) and client commands. */
import { SluiceError } from "../common/index.js";
import { readCommand, scopeCommand, streamCommand, writeCommand } from "./cli.js";
import { standaloneHelp, startStandalone } from "./standalone.js";

const usage = `usage:
  sluice standalone [--data-dir DIR] [--host 127.0.0.1] [--controller-port 9090] [--segmentstore-port 12345]
  sluice scope create|list NAME            [--controller tcp://127.0.0.1:9090]
  sluice stream create SCOPE/STREAM [--segments N]
  sluice stream list SCOPE | info SCOPE/STREAM
  sluice write SCOPE/STREAM [--key K] [TEXT...]   (no TEXT: one event per stdin line)
  sluice read SCOPE/STREAM [--count N]
Flags may also come from SLUICE_<FLAG> environment variables (e.g. SLUICE_CONTROLLER).`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case "standalone": {
      if (rest.includes("--help")) {
        process.stdout.write(standaloneHelp + "\n");
        return;
      }
      const s = await startStandalone(rest);
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
