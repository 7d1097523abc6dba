// Proves workloads parse as OMB writes them and every bad one is refused with a message naming file, field, value and range, by parsing YAML text and every shipped workload file.
import tap from "tap";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { InvalidConfigError } from "../../common/index.js";
import { loadWorkload, parseDuration, parseWorkload, withDuration, withOverrides, type Workload } from "./workload.js";

const workloadsDir = fileURLToPath(new URL("../workloads/", import.meta.url));

const base = `
name: test
topics: 1
partitionsPerTopic: 4
messageSize: 1024
subscriptionsPerTopic: 1
consumerPerSubscription: 1
producersPerTopic: 1
producerRate: 1000
testDurationMinutes: 5
`;

/** The base workload with `field: value` lines added or replacing the base's. */
function withFields(fields: Record<string, string>): string {
  const lines = base.trim().split("\n").filter((line) => !Object.hasOwn(fields, line.split(":")[0]!));
  for (const [k, v] of Object.entries(fields)) lines.push(`${k}: ${v}`);
  return lines.join("\n");
}

function invalid(t: Pick<typeof tap, "throws">, text: string, pattern: RegExp, what: string): void {
  t.throws(() => parseWorkload(text, "w.yaml"), { code: "INVALID_CONFIG", message: pattern }, what);
}

void tap.test("a minimal workload gets OMB's defaults", async (t) => {
  const w = parseWorkload(base, "w.yaml");
  t.same(w, {
    name: "test",
    topics: 1,
    partitionsPerTopic: 4,
    messageSize: 1024,
    keyDistributor: "NO_KEY",
    subscriptionsPerTopic: 1,
    consumerPerSubscription: 1,
    producersPerTopic: 1,
    producerRate: 1000,
    consumerBacklogSizeGB: 0,
    testDurationMinutes: 5,
    warmupDurationMinutes: 0,
  } satisfies Workload);
  t.notOk("payloadFile" in w, "absent optional fields stay absent");
});

void tap.test("optional fields are read and typed", async (t) => {
  const w = parseWorkload(
    withFields({ useRandomizedPayloads: "true", randomBytesRatio: "0.5", randomizedPayloadPoolSize: "1000", keyDistributor: "RANDOM_NANO" }),
    "w.yaml",
  );
  t.equal(w.useRandomizedPayloads, true);
  t.equal(w.randomBytesRatio, 0.5);
  t.equal(w.randomizedPayloadPoolSize, 1000);
  t.equal(w.keyDistributor, "RANDOM_NANO");
  t.equal(parseWorkload(withFields({ payloadFile: "payload/payload-1Kb.data" }), "w.yaml").payloadFile, "payload/payload-1Kb.data");
});

void tap.test("each bad value names the file, the field, the value and what is allowed", async (t) => {
  invalid(t, withFields({ topics: "0" }), /^w\.yaml: topics: 0 is not an integer in \[1, 64\]$/, "topics below 1");
  invalid(t, withFields({ topics: "65" }), /topics: 65 is not an integer in \[1, 64\]/, "topics above the bound");
  invalid(t, withFields({ partitionsPerTopic: "1.5" }), /partitionsPerTopic: 1\.5 is not an integer in \[1, 1024\]/, "fractional partitions");
  invalid(t, withFields({ messageSize: "1048577" }), /messageSize: 1048577 is not an integer in \[1, 1048576\]/, "message above 1 MiB");
  invalid(t, withFields({ messageSize: '"1024"' }), /messageSize: "1024" is not an integer/, "a quoted number is a string");
  invalid(t, withFields({ producersPerTopic: "0" }), /producersPerTopic: 0 is not an integer in \[1, 64\]/, "no producers");
  invalid(t, withFields({ subscriptionsPerTopic: "-1" }), /subscriptionsPerTopic: -1 is not an integer in \[0, 16\]/, "negative subscriptions");
  invalid(t, withFields({ producerRate: "-5" }), /producerRate: -5 is not a number in \[0, 10000000\]/, "negative rate");
  invalid(t, withFields({ producerRate: ".inf" }), /producerRate: Infinity is not a number/, "infinite rate");
  invalid(t, withFields({ testDurationMinutes: "0" }), /testDurationMinutes: 0 is not a number in \(0, 1440\]/, "zero duration");
  invalid(t, withFields({ warmupDurationMinutes: "-1" }), /warmupDurationMinutes: -1 is not a number in \[0, 60\]/, "negative warm-up");
  invalid(t, withFields({ consumerBacklogSizeGB: "-0.5" }), /consumerBacklogSizeGB: -0\.5 is not a number in \[0, 64\]/, "negative backlog");
  invalid(t, withFields({ randomBytesRatio: "1.5" }), /randomBytesRatio: 1\.5 is not a number in \[0, 1\]/, "ratio above 1");
  invalid(t, withFields({ keyDistributor: "HASHED" }), /keyDistributor: "HASHED" is not one of NO_KEY, KEY_ROUND_ROBIN, RANDOM_NANO/, "unknown distributor");
  invalid(t, withFields({ useRandomizedPayloads: "yes" }), /useRandomizedPayloads: "yes" is not true or false/, "YAML 1.2 has no yes");
  invalid(t, withFields({ payloadFile: "" }), /payloadFile: null is not a non-empty string/, "an empty payloadFile");
  invalid(t, withFields({ name: "''" }), /name: "" is not a non-empty string/, "an empty name");
});

void tap.test("missing, unknown and malformed", async (t) => {
  invalid(t, base.replace("topics: 1\n", ""), /^w\.yaml: topics is missing; it must be an integer in \[1, 64\]$/, "a required field");
  invalid(t, withFields({ partitionPerTopic: "4" }), /unknown field "partitionPerTopic"; known fields: name, topics, partitionsPerTopic/, "a misspelt field");
  invalid(t, "- a\n- b\n", /a workload must be a YAML mapping/, "a list");
  invalid(t, "", /a workload must be a YAML mapping of fields, not null/, "an empty file");
  invalid(t, "topics: [1\n", /not valid YAML/, "broken YAML");
  invalid(t, base + "topics: 2\n", /not valid YAML.*unique/s, "a duplicate key");
  invalid(t, base + "---\nname: other\n", /not valid YAML/, "two documents");
});

void tap.test("cross-field rules", async (t) => {
  invalid(t, withFields({ topics: "8", partitionsPerTopic: "1024" }), /partitionsPerTopic: 1024 is not at most 4096 partitions in all with 8 topics/, "partition total");
  invalid(t, withFields({ topics: "8", producersPerTopic: "64" }), /producersPerTopic: 64 is not at most 256 producers/, "producer total");
  invalid(t, withFields({ topics: "8", subscriptionsPerTopic: "16", consumerPerSubscription: "4" }), /consumerPerSubscription: 4 is not at most 256 consumers/, "consumer total");
  invalid(t, withFields({ consumerBacklogSizeGB: "1", consumerPerSubscription: "0" }), /consumerBacklogSizeGB: 1 is not above 0 when no consumer/, "a backlog nobody drains");
  invalid(t, withFields({ messageSize: "1048576", randomizedPayloadPoolSize: "1000" }), /randomizedPayloadPoolSize: 1000 is not at most 256 /, "a pool too large in bytes");
  invalid(t, withFields({ payloadFile: "p.data", useRandomizedPayloads: "true" }), /useRandomizedPayloads: true is not true when payloadFile is given/, "two payload sources");
  invalid(t, withFields({ useRandomizedPayloads: "false" }), /useRandomizedPayloads: false is not false without a payloadFile/, "no payload source");
});

void tap.test("durations and the --duration override", async (t) => {
  t.equal(parseDuration("500ms"), 500);
  t.equal(parseDuration("20s"), 20_000);
  t.equal(parseDuration("2m"), 120_000);
  for (const bad of ["", "20", "0s", "1.5m", "-3s", "2h", "1441m"]) {
    t.throws(() => parseDuration(bad), { code: "INVALID_CONFIG", message: /^--duration: .* is not a whole number followed by ms, s or m/ }, JSON.stringify(bad));
  }
  const w = parseWorkload(withFields({ warmupDurationMinutes: "1" }), "w.yaml");
  const short = withDuration(w, 20_000);
  t.equal(short.testDurationMinutes, 20_000 / 60_000);
  t.equal(short.warmupDurationMinutes * 60_000, 2_000, "warm-up cut to a tenth of the test");
  t.equal(withDuration(w, 60 * 60_000).warmupDurationMinutes, 1, "a long override keeps the workload's warm-up");
  t.equal(w.testDurationMinutes, 5, "the input workload is unchanged");
  t.throws(() => withDuration(w, 0), InvalidConfigError);
});

void tap.test("command-line overrides of producers, consumers and rate are checked like the file", async (t) => {
  const w = parseWorkload(withFields({}), "w.yaml");
  const o = withOverrides(w, { producersPerTopic: 4, consumerPerSubscription: 4, producerRate: 10_000 }, "w.yaml with overrides");
  t.same([o.producersPerTopic, o.consumerPerSubscription, o.producerRate], [4, 4, 10_000]);
  t.equal(o.messageSize, w.messageSize, "other fields kept");
  t.throws(() => withOverrides(w, { producersPerTopic: 0 }, "cli"), { code: "INVALID_CONFIG", message: /^cli: producersPerTopic: 0 is not/ });
  t.throws(() => withOverrides(w, { producerRate: -1 }, "cli"), { code: "INVALID_CONFIG", message: /producerRate/ });
});

void tap.test("loadWorkload names the path when the file is missing or bad", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "sluice-workload-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const missing = join(dir, "missing.yaml");
  await t.rejects(loadWorkload(missing), { code: "INVALID_CONFIG", message: new RegExp(`^${missing}: cannot read workload`) });
  const bad = join(dir, "bad.yaml");
  await writeFile(bad, withFields({ topics: "0" }));
  await t.rejects(loadWorkload(bad), { code: "INVALID_CONFIG", message: new RegExp(`^${bad}: topics: 0 is not`) });
  const big = join(dir, "big.yaml");
  await writeFile(big, "#".repeat(65 * 1024));
  await t.rejects(loadWorkload(big), { code: "INVALID_CONFIG", message: /is more than a workload may hold/ });
});

void tap.test("every shipped workload parses, with the shape its file name promises", async (t) => {
  const files = (await readdir(workloadsDir)).filter((f) => f.endsWith(".yaml")).sort();
  const expected: Record<string, Partial<Workload>> = {
    "1-topic-1-partition-100b.yaml": { partitionsPerTopic: 1, messageSize: 100, producerRate: 20_000, keyDistributor: "NO_KEY" },
    "1-topic-4-partitions-1kb.yaml": { partitionsPerTopic: 4, messageSize: 1024, producerRate: 0, keyDistributor: "KEY_ROUND_ROBIN" },
    "1-topic-16-partitions-1kb-fixed-rate.yaml": { partitionsPerTopic: 16, messageSize: 1024, producerRate: 20_000, keyDistributor: "KEY_ROUND_ROBIN" },
    "1-topic-4-partitions-1kb-backlog-drain.yaml": {
      partitionsPerTopic: 4,
      messageSize: 1024,
      producerRate: 50_000,
      consumerBacklogSizeGB: 0.5,
      keyDistributor: "KEY_ROUND_ROBIN",
    },
  };
  t.same(files, Object.keys(expected).sort(), "the shipped set");
  for (const file of files) {
    const w = await loadWorkload(join(workloadsDir, file));
    t.match(w, { ...expected[file], topics: 1, producersPerTopic: 1, subscriptionsPerTopic: 1, consumerPerSubscription: 1 }, file);
    t.equal(w.testDurationMinutes, 5, `${file}: 5 minute test`);
    t.equal(w.warmupDurationMinutes, 1, `${file}: 1 minute warm-up`);
    t.equal(w.payloadFile, undefined, `${file}: randomized payloads`);
  }
});
