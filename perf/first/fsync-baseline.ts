/**
 * The machine's ceiling for the same job in plain Node: join 256 events of the given size into one
 * buffer, write it, fdatasync, repeat, for a given duration, in a file under the given directory.
 * Prints one JSON line.
 */
import { open, rm } from "node:fs/promises";
import { join } from "node:path";

const [dir, durationMsText, sizeText] = process.argv.slice(2);
const durationMs = Number(durationMsText);
const eventBytes = Number(sizeText ?? 1024);
const batch = 256;
const path = join(dir!, "baseline.dat");
const fh = await open(path, "w");
const events = Array.from({ length: batch }, () => Buffer.alloc(eventBytes + 4, 0x61));
let written = 0;
let position = 0;
const start = performance.now();
while (performance.now() - start < durationMs) {
  const joined = Buffer.concat(events);
  await fh.write(joined, 0, joined.length, position);
  await fh.datasync();
  position += joined.length;
  written += batch;
}
const seconds = (performance.now() - start) / 1000;
await fh.close();
await rm(path);
process.stdout.write(JSON.stringify({ events: written, seconds, eventBytes }) + "\n");
