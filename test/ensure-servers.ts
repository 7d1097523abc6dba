/**
 * Runs before the tests (`npm test`'s pretest): the servers some tests start for real must be
 * installed. As root (these machines, CI) a missing Debian package is installed with apt-get;
 * otherwise this stops at once with the exact command to run.
 */
import { execFileSync } from "node:child_process";
import { isOnPath } from "../common/index.js";

interface Needed {
  binary: string;
  packages: string[];
  why: string;
}

const needed: Needed[] = [
  { binary: "redis-server", packages: ["redis-server"], why: "the Redis Streams peer of the perf harness (perf/drivers/redis-driver.test.ts)" },
  { binary: "etcd", packages: ["etcd-server", "etcd-client"], why: "the etcd metadata store tests (controller/store/etcd-*.test.ts, test/controller-etcd.test.ts)" },
  { binary: "javac", packages: ["openjdk-17-jdk-headless"], why: "the Flink connector (connector-flink/, Java 17): its tests run after the TypeScript suite" },
  { binary: "mvn", packages: ["maven"], why: "building and testing the Flink connector (connector-flink/pom.xml; Maven resolves Flink and gRPC from Maven Central on first run)" },
  { binary: "chromium", packages: ["chromium"], why: "the demo report's browser check (test/demo-report-browser.test.ts, through playwright-core, which downloads no browser)" },
  { binary: "radosgw", packages: ["ceph-mon", "ceph-osd", "ceph-mgr", "radosgw", "ceph-common"], why: "the Tier-2 tests against a real S3 server (test/tier2-*.test.ts)" },
];


const missing = needed.filter((n) => !isOnPath(n.binary));
if (missing.length > 0) {
  const packages = missing.flatMap((n) => n.packages);
  const command = `apt-get install -y --no-install-recommends ${packages.join(" ")}`;
  if (process.getuid?.() !== 0) {
    for (const n of missing) process.stderr.write(`${n.binary} is needed for ${n.why}\n`);
    process.stderr.write(`install it first (as root):\n  apt-get update && ${command}\n`);
    process.exit(1);
  }
  process.stderr.write(`installing ${packages.join(", ")} for the tests: apt-get update && ${command}\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update"], { stdio: "inherit", env });
  execFileSync("apt-get", ["install", "-y", "--no-install-recommends", ...packages], { stdio: "inherit", env });
  for (const n of missing) {
    if (!isOnPath(n.binary)) {
      process.stderr.write(`${n.binary} is still missing after installing ${n.packages.join(" ")}\n`);
      process.exit(1);
    }
  }
}
