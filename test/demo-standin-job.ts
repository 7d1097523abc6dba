/**
 * A stand-in for io.sluice.demo.ScalingDemoJob, for test/demo-scaling.test.ts: the same arguments and
 * JSON-lines protocol (notes/brief-21.md), a TypeScript reader and writer instead of Flink. It copies
 * the input to the output (routing key = the event's key), counts per-key out-of-order, duplicate and
 * gap events, and follows the input's segment count as the Java rescaler does: a new clamped count
 * seen on `stable-polls` polls in a row, at least `cooldown-ms` after the last rescale, is applied;
 * the copy then pauses for `standinPauseMs` (the job's restart). Stops on stdin EOF or SIGTERM after
 * draining what the input holds, prints audit and stopped, exits 0.
 */
import { Sluice } from "../client/index.js";

/** How long the stand-in's "restart" stops the copy. */
const standinPauseMs = 300;
/** After the stop is asked for, the copy ends once the input has had nothing new for this long. */
const drainQuietMs = 1_500;

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!, process.argv[i + 1]!);
const num = (name: string, fallback: number) => Number(args.get(name) ?? fallback);
const min = num("--min-parallelism", 1);
const max = num("--max-parallelism", 4);
const pollMs = num("--poll-ms", 1000);
const stablePolls = num("--stable-polls", 2);
const cooldownMs = num("--cooldown-ms", 5000);
const input = args.get("--input")!;
const output = args.get("--output")!;
const emit = (o: object) => process.stdout.write(JSON.stringify(o) + "\n");
const clamp = (n: number) => Math.min(max, Math.max(min, n));

const client = await Sluice.connect(args.get("--controller")!);
const segmentsNow = async () => (await client.admin.streamInfo(input)).segments.length;
let parallelism = clamp(await segmentsNow());
let running = true;
let pausedUntilMs = 0;
emit({ type: "started", timeMs: Date.now(), jobId: "standin", restUrl: "http://127.0.0.1:0", parallelism });

let stopping = false;
process.stdin.resume();
process.stdin.on("end", () => (stopping = true));
process.once("SIGTERM", () => (stopping = true));

const poll = async () => {
  let candidate = parallelism;
  let seen = 0;
  let changedAtMs = Date.now();
  let lastRescaleMs = 0;
  while (!stopping) {
    const segments = await segmentsNow();
    const wanted = clamp(segments);
    if (wanted !== candidate) {
      candidate = wanted;
      seen = 0;
      changedAtMs = Date.now();
    }
    seen++;
    const requested = candidate !== parallelism && seen >= stablePolls && Date.now() - lastRescaleMs >= cooldownMs ? candidate : parallelism;
    if (requested !== parallelism) {
      const requestedAtMs = Date.now();
      running = false;
      pausedUntilMs = requestedAtMs + standinPauseMs;
      await new Promise((done) => setTimeout(done, standinPauseMs));
      running = true;
      const runningAtMs = Date.now();
      emit({ type: "rescale", timeMs: runningAtMs, from: parallelism, to: requested, segmentsChangedAtMs: changedAtMs, requestedAtMs, runningAtMs, pauseMs: runningAtMs - requestedAtMs });
      parallelism = requested;
      lastRescaleMs = runningAtMs;
    }
    emit({ type: "sample", timeMs: Date.now(), segments, requested, observed: parallelism, running });
    await new Promise((done) => setTimeout(done, pollMs));
  }
};

const next = new Map<string, number>();
const audit = { keys: 0, outOfOrder: 0, duplicates: 0, gaps: 0 };
const copy = async () => {
  const group = await client.readerGroup(`${input.split("/")[0]}/standin-job`, { streams: [input], from: "head" });
  const reader = group.reader("standin");
  const writer = client.writer(output);
  const decoder = new TextDecoder();
  let quietSinceMs = Date.now();
  for (;;) {
    if (Date.now() < pausedUntilMs) {
      await new Promise((done) => setTimeout(done, pausedUntilMs - Date.now()));
      continue;
    }
    const item = await reader.readNext({ timeoutMs: 200 });
    if (item.type !== "event") {
      if (stopping && Date.now() - quietSinceMs >= drainQuietMs) break;
      continue;
    }
    quietSinceMs = Date.now();
    const text = decoder.decode(item.data);
    const [key, seqText] = text.split(":");
    const seq = Number(seqText);
    const expected = next.get(key!) ?? 0;
    if (!next.has(key!)) audit.keys++;
    if (seq === expected - 1) audit.duplicates++;
    else if (seq < expected) audit.outOfOrder++;
    else {
      if (seq > expected) audit.gaps++;
      next.set(key!, seq + 1);
    }
    void writer.write(text, { routingKey: key! });
    await writer.ready();
  }
  await writer.flush();
  await reader.close();
};

await Promise.all([poll(), copy()]);
emit({ type: "audit", ...audit });
await client.close();
emit({ type: "stopped", timeMs: Date.now() });
// Stopped by SIGTERM, stdin is still open and would keep the process alive.
process.stdin.destroy();
