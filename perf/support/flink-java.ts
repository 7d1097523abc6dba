/**
 * Running connector-flink's Java mains from a perf script: build the connector with its test classes
 * (Maven: test-compile plus the dependency class path), then `java` with the `--add-opens` flags of
 * the pom's `flink.add-opens` property, each child killed by its pid after a deadline.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePorts, startSluiceProcess } from "./standalone-process.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const connector = join(repo, "connector-flink");
const buildTimeoutMs = 10 * 60_000;

export interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, killing it (SIGKILL, by its pid) after `timeoutMs`. */
export function runCommand(cmd: string, args: readonly string[], timeoutMs: number): Promise<Exited> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export function failed(what: string, r: Exited): Error {
  return new Error(`${what} failed (exit ${r.code ?? r.signal}):\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
}

/** Compiles the connector with its test classes and returns the `java` arguments before the main class's own. */
export async function buildFlinkSide(): Promise<string[]> {
  const mvn = await runCommand(
    "mvn",
    ["-B", "-q", "-ntp", "-f", join(connector, "pom.xml"), "test-compile", "dependency:build-classpath", "-Dmdep.outputFile=target/classpath.txt"],
    buildTimeoutMs,
  );
  if (mvn.code !== 0) throw failed("mvn test-compile dependency:build-classpath", mvn);
  const deps = (await readFile(join(connector, "target", "classpath.txt"), "utf8")).trim();
  const pom = await readFile(join(connector, "pom.xml"), "utf8");
  const opens = /<flink\.add-opens>([^<]*)<\/flink\.add-opens>/.exec(pom);
  if (opens === null) throw new Error("connector-flink/pom.xml has no flink.add-opens property");
  const classPath = [join(connector, "target", "classes"), join(connector, "target", "test-classes"), deps].join(":");
  return [...opens[1]!.trim().split(/\s+/), "-Xmx2g", "-cp", classPath];
}

/** What a Flink benchmark gets: the java arguments before its main class, the controller, the build's time. */
export interface FlinkBench {
  javaArgs: string[];
  controllerUri: string;
  buildSeconds: number;
}

/**
 * Builds the connector, starts a `sluice standalone` in its own process (free ports, a temp data dir),
 * runs `body`, then stops the standalone by its pid and deletes the dir, also when `body` fails.
 */
export async function withFlinkBench(name: string, body: (bench: FlinkBench) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), `sluice-perf-${name}-`));
  try {
    const buildStarted = performance.now();
    const javaArgs = await buildFlinkSide();
    const buildSeconds = (performance.now() - buildStarted) / 1000;
    const [controllerPort, storePort] = await freePorts(2);
    const server = await startSluiceProcess("standalone", ["--data-dir", join(dir, "data"), "--controller-port", String(controllerPort), "--segmentstore-port", String(storePort)]);
    try {
      await body({ javaArgs, controllerUri: `tcp://127.0.0.1:${controllerPort}`, buildSeconds });
    } finally {
      await server.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
