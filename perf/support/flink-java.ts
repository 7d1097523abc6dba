/**
 * Running connector-flink's Java mains from a perf script: build the connector with its test classes
 * (Maven: test-compile plus the dependency class path), then `java` with the `--add-opens` flags of
 * the pom's `flink.add-opens` property, each child killed by its pid after a deadline.
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

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
