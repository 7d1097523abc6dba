/**
 * Probe: TCP bandwidth between two Node processes on 127.0.0.1. The probe (role `source`) starts a
 * child of this same script in role `sink`, which listens on an ephemeral port and counts the bytes
 * it receives; the source writes 64 KiB buffers for `--duration-ms`, waiting for 'drain' whenever
 * write() returns false, then ends the connection. The sink times from its first byte to 'end', so
 * the figure is what crossed the loopback, not what was queued. Prints one JSON line, a
 * `LoopbackFigures`.
 *
 *   node --import tsx perf/limits/loopback.ts --duration-ms 10000
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createConnection, createServer, type AddressInfo, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import {
  InternalError,
  InvalidConfigError,
  KiB,
  TimeoutError,
  assert,
  parseConfig,
  systemClock,
  unreachable,
} from "../../common/index.js";

/** What the probe prints. */
export interface LoopbackFigures {
  bytes: number;
  seconds: number;
  writeBytes: number;
  mbPerSec: number;
}

/** What the sink prints after the connection ends. */
interface SinkReport {
  bytes: number;
  seconds: number;
}

/** The size of each socket write, a typical server read/write chunk. */
const writeBytes = 64 * KiB;
const durationMsMin = 100;
const durationMsMax = 3_600_000;
/** How long the sink may take to start and print its port, or to connect to it. */
const sinkStartMsMax = 30_000;
/** How long one 'drain', or the sink's report after the end, may take before the probe fails. */
const waitMsMax = 10_000;

const { config } = parseConfig(
  {
    role: { kind: "string", default: "source", pattern: /^(source|sink)$/, patternHelp: "source or sink", help: "which end this process is" },
    "duration-ms": { kind: "int", default: 10_000, min: durationMsMin, max: durationMsMax, help: "how long the source writes" },
  },
  process.argv.slice(2),
);

/** Fails with TIMEOUT if `promise` has not settled within `timeoutMs`. */
async function withDeadline<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: { cancel(): void } | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = systemClock.setTimer(timeoutMs, () => reject(new TimeoutError(`${what} took over ${timeoutMs} ms`)));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    timer?.cancel();
  }
}

function parseRole(role: string): "source" | "sink" {
  if (role === "source" || role === "sink") return role;
  throw new InvalidConfigError(`--role: ${JSON.stringify(role)} is not source or sink`);
}

async function runSink(): Promise<void> {
  // The source holds our stdin open; it closes when the source exits, even by SIGKILL, so a sink
  // whose source died does not linger.
  let reported = false;
  process.stdin.once("end", () => {
    if (!reported) process.exit(1);
  });
  process.stdin.resume();
  // Likewise, a closed stdout means the source is gone and nobody is left to read the report.
  process.stdout.once("error", () => process.exit(1));

  const server = createServer();
  server.maxConnections = 1;
  const report = new Promise<SinkReport>((resolve, reject) => {
    server.once("connection", (socket: Socket) => {
      let bytes = 0;
      let firstByteMs = 0;
      socket.on("data", (chunk: Buffer) => {
        if (bytes === 0) firstByteMs = systemClock.monotonicMs();
        bytes += chunk.length;
      });
      socket.once("end", () => resolve({ bytes, seconds: (systemClock.monotonicMs() - firstByteMs) / 1000 }));
      socket.once("error", reject);
    });
    server.once("error", reject);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + "\n");
  const result = await report;
  reported = true;
  process.stdout.write(JSON.stringify(result) + "\n");
  server.close();
  process.stdin.destroy();
}

async function runSource(durationMs: number): Promise<LoopbackFigures> {
  const sink = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--role", "sink"], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = once(sink, "exit");
  // The iterator buffers lines, so none is lost between the two reads below.
  const lines = createInterface({ input: sink.stdout })[Symbol.asyncIterator]();
  const nextLine = async (timeoutMs: number, what: string): Promise<unknown> => {
    const next = await withDeadline(lines.next(), timeoutMs, what);
    if (next.done === true) throw new InternalError(`loopback sink exited before ${what}`);
    return JSON.parse(String(next.value)) as unknown;
  };
  let socket: Socket | undefined;
  try {
    const ready = (await nextLine(sinkStartMsMax, "the sink's port")) as { port: number };
    socket = createConnection({ port: ready.port, host: "127.0.0.1" });
    await withDeadline(once(socket, "connect"), sinkStartMsMax, "connecting to the sink");

    const chunk = Buffer.alloc(writeBytes, 0x61);
    let bytes = 0;
    const startMs = systemClock.monotonicMs();
    while (systemClock.monotonicMs() - startMs < durationMs) {
      bytes += writeBytes;
      if (!socket.write(chunk)) await withDeadline(once(socket, "drain"), waitMsMax, "a drain");
    }
    socket.end();
    const report = (await nextLine(waitMsMax, "the sink's report")) as SinkReport;
    // Paired check across the process boundary: the sink saw exactly what was written.
    assert(report.bytes === bytes, `sink counted ${report.bytes} bytes, source wrote ${bytes}`);
    assert(report.seconds > 0, "sink measured a positive time");
    sink.stdin.end();
    await withDeadline(exited, waitMsMax, "the sink's exit");
    return { bytes, seconds: report.seconds, writeBytes, mbPerSec: bytes / report.seconds / 1e6 };
  } finally {
    socket?.destroy();
    if (sink.exitCode === null && sink.signalCode === null) sink.kill("SIGKILL");
  }
}

const role = parseRole(config.role);
switch (role) {
  case "sink":
    await runSink();
    break;
  case "source":
    process.stdout.write(JSON.stringify(await runSource(config["duration-ms"])) + "\n");
    break;
  default:
    unreachable(role, "role");
}
