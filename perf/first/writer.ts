/**
 * Load generator for the first throughput figure: one writer process, 1 KiB events, random routing
 * keys, a 4-segment stream, for a given duration. Prints one JSON line with what was acked.
 */
import { randomBytes } from "node:crypto";
import { Sluice } from "../../client/index.js";

const [uri, stream, durationMsText, sizeText] = process.argv.slice(2);
const durationMs = Number(durationMsText);
const eventBytes = Number(sizeText ?? 1024);
const sluice = await Sluice.connect(uri!);
await sluice.admin.createScope(stream!.split("/")[0]!);
await sluice.admin.createStream(stream!, { scaling: { type: "fixed", minSegments: 4 } });
const writer = sluice.writer(stream!);
const payload = randomBytes(eventBytes);
const keys = Array.from({ length: 1000 }, (_, i) => `key-${i}`);

// Warm the connections before timing.
await writer.write(payload, { routingKey: "warm" });
const start = performance.now();
let written = 0;
let failed = 0;
// A high-rate producer: bursts of writes without awaiting each, ready() between bursts for
// backpressure, and one flush at the end, which rejects if any write failed.
while (performance.now() - start < durationMs) {
  await writer.ready();
  for (let i = 0; i < 512; i++) {
    void writer.write(payload, { routingKey: keys[written % keys.length]! });
    written++;
  }
}
await writer.flush().catch(() => failed++);
const seconds = (performance.now() - start) / 1000;
await sluice.close();
process.stdout.write(JSON.stringify({ events: written, failed, seconds, eventBytes }) + "\n");
