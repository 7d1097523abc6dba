// Proves what only the etcd MetadataStore has to get right (the shared behaviour is the contract
// suite's): strict URI parsing, namespace isolation, a fast UNAVAILABLE when nothing listens, calls
// that fail with UNAVAILABLE within their deadline while etcd is down, and a watch that survives a
// SIGKILL and restart of etcd with every change delivered exactly once, in order. It runs against
// real etcd child processes on 127.0.0.1 (startEtcd), stopped by pid at the end of each test.
import t, { type Test } from "tap";
import { setTimeout as sleep } from "node:timers/promises";
import { Etcd3 } from "etcd3";
import { freePorts, SluiceError } from "../../common/index.js";
import { EtcdMetadataStore, etcdCallTimeoutMs, etcdDefaultNamespace, parseEtcdUri } from "./etcd-metadata-store.js";
import { etcdInstallCommand, startEtcd, type EtcdServer } from "./etcd-server.js";
import type { MetadataStore, WatchEvent } from "./metadata-store.js";
import { codeOf } from "./metadata-store.contract.js";

const b = (s: string) => Buffer.from(s, "utf8");
/** A call that must fail within its deadline gets this much slack for scheduling on a loaded machine. */
const deadlineSlackMs = 2_000;

/** The error a call rejects with, and how long it took. */
async function timedFailure(p: Promise<unknown>): Promise<{ code: string; elapsedMs: number }> {
  const startMs = Date.now();
  const code = await codeOf(p);
  return { code, elapsedMs: Date.now() - startMs };
}

async function startServer(t: Test): Promise<EtcdServer> {
  const server = await startEtcd();
  t.teardown(() => server.stop());
  return server;
}

async function connect(t: Test, uri: string, options: { namespace?: string } = {}): Promise<MetadataStore> {
  const store = await EtcdMetadataStore.connect(uri, options);
  t.teardown(() => store.close());
  return store;
}

/** Retries `fn` while it fails with a retriable error (etcd coming back), up to `timeoutMs`. */
async function retrying<T>(fn: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadlineMs = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof SluiceError) || !err.retriable || Date.now() >= deadlineMs) throw err;
      await sleep(50);
    }
  }
}

void t.test("URIs are parsed strictly", async (t) => {
  t.same(parseEtcdUri("etcd://127.0.0.1:2379"), { endpoints: ["127.0.0.1:2379"], namespace: etcdDefaultNamespace });
  t.same(parseEtcdUri("etcd://a:1,b.example:2,[::1]:3/app"), { endpoints: ["a:1", "b.example:2", "[::1]:3"], namespace: "app/" });
  t.same(parseEtcdUri("etcd://h:2379/team/app/").namespace, "team/app/", "a trailing slash is kept, not doubled");
  t.same(parseEtcdUri("etcd://h:2379/").namespace, etcdDefaultNamespace, "an empty path is the default namespace");
  const bad = [
    "",
    "http://127.0.0.1:2379",
    "etcd://",
    "etcd://127.0.0.1",
    "etcd://127.0.0.1:",
    "etcd://127.0.0.1:0",
    "etcd://127.0.0.1:70000",
    "etcd://127.0.0.1:2379,",
    "etcd://127.0.0.1:2379,,h:1",
    "etcd://user@h:2379",
    "etcd://h:2379/name space",
    "etcd://h:2379/ns?x=1",
    "etcd://h:2379/ns#frag",
    "etcd://-h:2379",
  ];
  for (const uri of bad) {
    let error: unknown;
    try {
      await EtcdMetadataStore.connect(uri);
    } catch (err) {
      error = err;
    }
    t.equal((error as SluiceError | undefined)?.code, "INVALID_CONFIG", `refused: ${JSON.stringify(uri)}`);
    t.match((error as Error | undefined)?.message, /etcd:\/\/HOST:PORT\[,HOST:PORT\.\.\.\]\[\/NAMESPACE\]/, "names the expected form");
  }
  t.equal(await codeOf(EtcdMetadataStore.connect("etcd://127.0.0.1:1", { namespace: "" })), "INVALID_CONFIG", "an empty namespace option");
});

void t.test("connect to a port with nothing listening fails fast with UNAVAILABLE naming the endpoint", async (t) => {
  const port = (await freePorts(1))[0]!;
  const startMs = Date.now();
  let error: unknown;
  try {
    await EtcdMetadataStore.connect(`etcd://127.0.0.1:${port}`);
  } catch (err) {
    error = err;
  }
  const elapsedMs = Date.now() - startMs;
  t.equal((error as SluiceError | undefined)?.code, "UNAVAILABLE");
  t.equal((error as SluiceError | undefined)?.retriable, true);
  t.match((error as Error | undefined)?.message, `127.0.0.1:${port}`, "names the endpoint");
  t.match((error as Error | undefined)?.message, /etcd --listen-client-urls/, "and how to start etcd");
  t.ok(elapsedMs < etcdCallTimeoutMs + deadlineSlackMs, `within the deadline (${elapsedMs} ms)`);
});

void t.test("startEtcd names the install command when etcd is not on PATH", async (t) => {
  const path = process.env["PATH"];
  process.env["PATH"] = "/nonexistent";
  t.teardown(() => {
    process.env["PATH"] = path;
  });
  let error: unknown;
  try {
    await startEtcd();
  } catch (err) {
    error = err;
  }
  t.match((error as Error | undefined)?.message, etcdInstallCommand);
});

void t.test("namespaces isolate stores sharing one etcd", async (t) => {
  const server = await startServer(t);
  const a = await connect(t, server.url, { namespace: "app-a/" });
  const bStore = await connect(t, `${server.url}/app-b`);
  const plain = await connect(t, server.url);
  const seenByA: WatchEvent[] = [];
  const watchA = await a.watch("", (await a.revision()) + 1, { onEvents: (e) => seenByA.push(...e), onError: (err) => t.fail(String(err)) });
  t.teardown(() => watchA.close());

  await a.put("k", b("from a"));
  await bStore.put("k", b("from b"));
  await plain.put("k", b("from the default namespace"));
  await bStore.put("only-b", b("x"));
  t.equal((await a.get("k"))?.value.toString(), "from a");
  t.equal((await bStore.get("k"))?.value.toString(), "from b");
  t.equal((await plain.get("k"))?.value.toString(), "from the default namespace");
  t.same((await a.list("")).entries.map((e) => e.key), ["k"], "a lists only its own keys, unprefixed");
  t.same((await bStore.list("")).entries.map((e) => e.key), ["k", "only-b"]);
  t.equal(await a.get("only-b"), undefined);
  t.equal(await a.delete("only-b"), false, "a cannot delete b's key");

  // What the namespaces look like in etcd itself.
  const raw = new Etcd3({ hosts: `http://${server.endpoint}` });
  t.teardown(() => raw.close());
  t.same((await raw.getAll().keys()).sort(), ["app-a/k", "app-b/k", "app-b/only-b", "sluice/k"]);

  await sleep(200);
  t.same(seenByA.map((e) => `${e.type} ${e.key}=${e.value.toString()}`), ["put k=from a"], "a's watch sees only a's changes");
});

void t.test("a 1 s lease lives about a second with startEtcd's raft timing", async (t) => {
  const server = await startServer(t);
  const s = await connect(t, server.url);
  const lease = await s.grantLease(1000);
  const grantedMs = Date.now();
  await s.put("leased", b("x"), { lease });
  while ((await s.get("leased")) !== undefined) await sleep(10);
  const livedMs = Date.now() - grantedMs;
  // etcd expires leases in a loop every 500 ms, so a 1 s lease lives 1.0 to ~1.6 s; etcd's default
  // timing would have raised the TTL to 2 s.
  t.ok(livedMs >= 900 && livedMs < 2_000, `lived ${livedMs} ms`);
});

void t.test("a watch from a compacted revision is refused with REVISION_COMPACTED", async (t) => {
  const server = await startServer(t);
  const s = await connect(t, server.url);
  for (let i = 0; i < 5; i++) await s.put(`c/${i}`, b(String(i)));
  const current = await s.revision();
  const raw = new Etcd3({ hosts: `http://${server.endpoint}` });
  t.teardown(() => raw.close());
  await raw.kv.compact({ revision: current, physical: true });
  const handler = { onEvents: () => t.fail("no events"), onError: (err: Error) => t.fail(String(err)) };
  t.equal(await codeOf(s.watch("c/", 2, handler)), "REVISION_COMPACTED");
  const w = await s.watch("c/", current, handler);
  t.equal(w.lastRevision, current - 1, "the compaction revision itself is still watchable");
  await w.close();
});

void t.test("calls to a frozen etcd (SIGSTOP) fail with UNAVAILABLE at their deadline, then work again", async (t) => {
  const server = await startServer(t);
  const s = await connect(t, server.url);
  await s.put("f/k", b("v"));
  const lease = await s.grantLease(60_000);
  const pid = server.pid;
  process.kill(pid, "SIGSTOP");
  let frozen = true;
  const thaw = () => {
    if (frozen) process.kill(pid, "SIGCONT");
    frozen = false;
  };
  t.teardown(thaw);
  // The connection stays up but nothing answers, so only the deadlines end these calls.
  const calls: [string, () => Promise<unknown>][] = [
    ["get", () => s.get("f/k")],
    ["put", () => s.put("f/k", b("w"))],
    ["txn", () => s.txn([{ key: "f/k", version: 1 }], [{ type: "delete", key: "f/k" }])],
    ["list", () => s.list("f/")],
    ["keepAlive", () => s.keepAlive(lease)],
    ["watch", () => s.watch("f/", 1, { onEvents: () => undefined, onError: () => undefined })],
  ];
  const results = await Promise.all(calls.map(([, call]) => timedFailure(call())));
  for (const [i, { code, elapsedMs }] of results.entries()) {
    const name = calls[i]![0];
    t.equal(code, "UNAVAILABLE", `${name} against a frozen etcd`);
    t.ok(elapsedMs >= etcdCallTimeoutMs - 100 && elapsedMs < etcdCallTimeoutMs + deadlineSlackMs, `${name} ended at its deadline (${elapsedMs} ms)`);
  }
  thaw();
  t.equal((await retrying(() => s.get("f/k")))?.value.length, 1, "calls work again once etcd answers");
});

void t.test("a watch survives etcd being killed and restarted, without gaps or repeats", async (t) => {
  const server = await startServer(t);
  const s = await connect(t, server.url);
  await s.put("w/old", b("before the watch"));
  const from = (await s.revision()) + 1;
  const seen: WatchEvent[] = [];
  const errors: Error[] = [];
  const watch = await s.watch("w/", from, { onEvents: (e) => seen.push(...e), onError: (err) => errors.push(err) });
  t.teardown(() => watch.close());

  const expected: string[] = [];
  const put = async (key: string, value: string) => {
    const revision = await s.put(key, b(value));
    expected.push(`put ${key}=${value} @${revision}`);
  };
  for (let i = 0; i < 5; i++) await put(`w/${i}`, `before${i}`);
  const lease = await s.grantLease(60_000);

  await server.kill();
  // Every kind of call fails with UNAVAILABLE, within its deadline, while etcd is down.
  const calls: [string, () => Promise<unknown>][] = [
    ["get", () => s.get("w/0")],
    ["put", () => s.put("w/down", b("x"))],
    ["compareAndSet", () => s.compareAndSet("w/down", 0, b("x"))],
    ["delete", () => s.delete("w/0")],
    ["list", () => s.list("w/")],
    ["txn", () => s.txn([], [{ type: "put", key: "w/down", value: b("x") }])],
    ["revision", () => s.revision()],
    ["grantLease", () => s.grantLease(5_000)],
    ["keepAlive", () => s.keepAlive(lease)],
    ["revokeLease", () => s.revokeLease(lease)],
    ["watch", () => s.watch("w/", from, { onEvents: () => undefined, onError: () => undefined })],
  ];
  for (const [name, call] of calls) {
    const { code, elapsedMs } = await timedFailure(call());
    t.equal(code, "UNAVAILABLE", `${name} while etcd is down`);
    t.ok(elapsedMs < etcdCallTimeoutMs + deadlineSlackMs, `${name} failed within its deadline (${elapsedMs} ms)`);
  }
  // An outage of a few seconds grows the watch's reconnect delay to its maximum, so the writes right
  // after the restart land before the watch is back: it must catch up on them from its own revision.
  await sleep(2_000);
  await server.restart();
  await retrying(() => put("w/after0", "after0"));
  for (let i = 1; i < 5; i++) await put(`w/after${i}`, `after${i}`);
  const tr = await s.txn([], [
    { type: "put", key: "w/t", value: b("t") },
    { type: "delete", key: "w/0" },
  ]);
  expected.push(`put w/t=t @${tr}`, `delete w/0= @${tr}`);

  const deadlineMs = Date.now() + 15_000;
  while (seen.length < expected.length && Date.now() < deadlineMs) await sleep(20);
  await sleep(200); // anything repeated after the last change would arrive by now
  t.same(seen.map((e) => `${e.type} ${e.key}=${e.value.toString()} @${e.revision}`), expected, "every change exactly once, in order");
  t.equal(watch.lastRevision, tr);
  t.same(errors, [], "the watch did not end");
  t.equal(await s.get("w/down"), undefined, "no call made during the outage took effect");
});
