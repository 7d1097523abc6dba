/**
 * The MetadataStore contract suite. It runs, unchanged, against every implementation
 * (file-metadata-store.test.ts, etcd-metadata-store.contract.test.ts): only the fixture differs,
 * which opens a fresh empty store and lets lease time pass (a ManualClock for the embedded store,
 * real time for etcd).
 */
import type { Test } from "tap";
import { setTimeout as sleep } from "node:timers/promises";
import { metadataListPageMax, metadataTxnOpsMax, metadataValueBytesMax, SluiceError } from "../../common/index.js";
import { listAll, type MetadataStore, type Watch, type WatchEvent } from "./metadata-store.js";

export interface ContractFixture {
  /** A fresh, empty store of the implementation under test; closed by the fixture at the end. */
  open(t: Test): Promise<MetadataStore>;
  /** Lets `ms` of lease time pass. */
  passTime(ms: number): Promise<void>;
}

const b = (s: string) => Buffer.from(s, "utf8");

/** The code a promise rejects with ("resolved" if it does not; "untyped: ..." for a non-Sluice error). */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "resolved";
  } catch (err) {
    return err instanceof SluiceError ? err.code : `untyped: ${String(err)}`;
  }
}

/** Polls `check` (real time) until it holds or 15 s pass. */
async function eventually(check: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(20);
  }
  return check();
}

/** Collects watch events; `until(n)` waits (real time, bounded) for at least n. */
function collector() {
  const events: WatchEvent[] = [];
  const errors: Error[] = [];
  return {
    events,
    errors,
    handler: { onEvents: (e: WatchEvent[]) => events.push(...e), onError: (err: Error) => errors.push(err) },
    until: (n: number) => eventually(() => Promise.resolve(events.length >= n)),
  };
}

const summary = (events: readonly WatchEvent[]) => events.map((e) => `${e.type} ${e.key}=${e.value.toString()} @${e.revision}`);

export function metadataStoreContract(t: Test, fixture: ContractFixture): void {
  void t.test("put, get, delete; versions are revisions; the revision counts every change", async (t) => {
    const s = await fixture.open(t);
    t.equal(await s.get("a"), undefined, "absent key");
    const r0 = await s.revision();
    const r1 = await s.put("a", b("1"));
    t.ok(r1 > r0, "put moves the revision");
    t.equal(await s.revision(), r1);
    const a1 = await s.get("a");
    t.same([a1?.value.toString(), a1?.version, a1?.createRevision, a1?.lease], ["1", r1, r1, undefined]);
    const r2 = await s.put("a", b("2"));
    t.equal(r2, r1 + 1, "one change, one revision");
    const a2 = await s.get("a");
    t.same([a2?.value.toString(), a2?.version, a2?.createRevision], ["2", r2, r1], "createRevision stays, version moves");
    await s.put("empty", Buffer.alloc(0));
    t.equal((await s.get("empty"))?.value.length, 0, "an empty value is a value");
    t.equal(await s.delete("a"), true);
    t.equal(await s.get("a"), undefined);
    t.equal(await s.delete("a"), false, "deleting an absent key reports false");
    const r3 = await s.revision();
    await s.put("a", b("3"));
    t.equal((await s.get("a"))?.createRevision, r3 + 1, "a recreated key has a new createRevision");
  });

  void t.test("compare-and-set: create-if-absent and update races have exactly one winner", async (t) => {
    const s = await fixture.open(t);
    const racers = 20;
    const create = await Promise.allSettled(Array.from({ length: racers }, (_, i) => s.compareAndSet("k", 0, b(`w${i}`))));
    const won = create.flatMap((r, i) => (r.status === "fulfilled" ? [{ i, revision: r.value }] : []));
    t.equal(won.length, 1, "exactly one create wins");
    for (const r of create) if (r.status === "rejected") t.equal((r.reason as SluiceError).code, "CONDITIONAL_CHECK_FAILED");
    const k = await s.get("k");
    t.same([k?.value.toString(), k?.version], [`w${won[0]!.i}`, won[0]!.revision], "the winner's value is stored");

    const update = await Promise.allSettled(Array.from({ length: racers }, (_, i) => s.compareAndSet("k", k!.version, b(`u${i}`))));
    const updated = update.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
    t.equal(updated.length, 1, "exactly one update wins");
    t.equal((await s.get("k"))?.value.toString(), `u${updated[0]}`);

    const before = await s.revision();
    t.equal(await codeOf(s.compareAndSet("k", k!.version, b("stale"))), "CONDITIONAL_CHECK_FAILED", "a stale version fails");
    t.equal(await codeOf(s.compareAndSet("k", 0, b("again"))), "CONDITIONAL_CHECK_FAILED", "create of a present key fails");
    t.equal(await codeOf(s.compareAndSet("nope", 5, b("x"))), "CONDITIONAL_CHECK_FAILED", "a version of an absent key fails");
    t.equal(await s.revision(), before, "failed compares change nothing");
    t.equal((await s.get("k"))?.value.toString(), `u${updated[0]}`);
  });

  void t.test("conditional delete", async (t) => {
    const s = await fixture.open(t);
    const v = await s.put("d", b("x"));
    t.equal(await codeOf(s.delete("d", v + 100)), "CONDITIONAL_CHECK_FAILED");
    t.equal((await s.get("d"))?.value.toString(), "x", "a failed conditional delete keeps the key");
    t.equal(await codeOf(s.delete("d", 0)), "CONDITIONAL_CHECK_FAILED", "expecting absence of a present key fails");
    t.equal(await s.delete("d", v), true);
    t.equal(await s.get("d"), undefined);
  });

  void t.test("list by prefix pages in key byte order", async (t) => {
    const s = await fixture.open(t);
    const keys = Array.from({ length: 25 }, (_, i) => `p/${String(i).padStart(2, "0")}`);
    keys.push("p/é", "p/z", "p/Z");
    for (const k of [...keys].reverse()) await s.put(k, b(k));
    await s.put("o/outside", b("x"));
    await s.put("p", b("the prefix itself, no slash"));
    await s.put("q/after", b("x"));
    const expected = [...keys].sort((x, y) => Buffer.compare(b(x), b(y)));
    const pages: string[][] = [];
    let after: string | undefined;
    for (;;) {
      const page = await s.list("p/", { limit: 10, ...(after === undefined ? {} : { after }) });
      pages.push(page.entries.map((e) => e.key));
      t.ok(page.revision >= 1, "a page carries its revision");
      if (!page.more) break;
      after = page.entries.at(-1)!.key;
    }
    t.same(pages.map((p) => p.length), [10, 10, 8], "pages of 10, 10 and 8");
    t.same(pages.flat(), expected, "every key once, in byte order");
    t.same((await listAll(s, "p/")).map((e) => e.key), expected, "listAll pages through");
    const one = (await s.list("p/00")).entries;
    t.same([one.length, one[0]?.value.toString(), one[0]?.version], [1, "p/00", (await s.get("p/00"))?.version]);
    t.same((await s.list("none/")).entries, [], "an unused prefix lists nothing");
    t.equal((await s.list("", { limit: metadataListPageMax })).entries.length, keys.length + 3, "the empty prefix lists everything");
    t.same((await s.list("p/", { after: "a", limit: 2 })).entries.map((e) => e.key), expected.slice(0, 2), "an `after` before the prefix starts at the prefix");
    t.same((await s.list("p/", { after: "zz" })).entries, [], "an `after` past the prefix lists nothing");
    t.equal(await codeOf(s.list("p/", { limit: 0 })), "INVALID_ARGUMENT");
    t.equal(await codeOf(s.list("p/", { limit: metadataListPageMax + 1 })), "INVALID_ARGUMENT");
  });

  void t.test("a transaction applies all its operations at one revision, or none", async (t) => {
    const s = await fixture.open(t);
    const va = await s.put("t/a", b("a0"));
    const vb = await s.put("t/b", b("b0"));
    await s.put("t/gone", b("x"));
    const rev = await s.txn(
      [
        { key: "t/a", version: va },
        { key: "t/b", version: vb },
        { key: "t/new", version: 0 },
      ],
      [
        { type: "put", key: "t/a", value: b("a1") },
        { type: "put", key: "t/new", value: b("n1") },
        { type: "delete", key: "t/gone" },
      ],
    );
    t.equal(rev, vb + 2, "one revision for the whole transaction");
    t.same(
      (await listAll(s, "t/")).map((e) => [e.key, e.value.toString(), e.version]),
      [
        ["t/a", "a1", rev],
        ["t/b", "b0", vb],
        ["t/new", "n1", rev],
      ],
    );

    const before = await s.revision();
    let failure: unknown;
    try {
      await s.txn(
        [
          { key: "t/a", version: rev },
          { key: "t/b", version: va },
        ],
        [
          { type: "put", key: "t/a", value: b("a2") },
          { type: "delete", key: "t/b" },
          { type: "put", key: "t/other", value: b("o") },
        ],
      );
    } catch (err) {
      failure = err;
    }
    t.equal((failure as SluiceError).code, "CONDITIONAL_CHECK_FAILED", "one failed compare fails the transaction");
    t.match((failure as SluiceError).message, /t\/b/, "the error names the key whose version differs");
    t.notMatch((failure as SluiceError).message, /t\/a:/, "and not the key that matched");
    t.equal(await s.revision(), before, "the revision did not move");
    t.same(
      (await listAll(s, "t/")).map((e) => [e.key, e.value.toString()]),
      [
        ["t/a", "a1"],
        ["t/b", "b0"],
        ["t/new", "n1"],
      ],
      "nothing changed",
    );
    t.equal(await s.txn([], [{ type: "put", key: "t/c", value: b("c") }]), before + 1, "a transaction without compares commits");
  });

  void t.test("bad input is refused with INVALID_ARGUMENT and changes nothing", async (t) => {
    const s = await fixture.open(t);
    await s.put("keep", b("v"));
    const before = await s.revision();
    const cases: [string, () => Promise<unknown>][] = [
      ["empty key", () => s.put("", b("x"))],
      ["key with NUL", () => s.put("a\0b", b("x"))],
      ["key with a lone surrogate", () => s.put("a\uD800", b("x"))],
      ["oversized key", () => s.put("k".repeat(5000), b("x"))],
      ["oversized value", () => s.put("big", Buffer.alloc(metadataValueBytesMax + 1))],
      ["negative version", () => s.compareAndSet("keep", -1, b("x"))],
      ["key twice in a transaction", () => s.txn([], [{ type: "put", key: "x", value: b("1") }, { type: "delete", key: "x" }])],
      ["too many operations", () => s.txn([], Array.from({ length: metadataTxnOpsMax + 1 }, (_, i) => ({ type: "put" as const, key: `m${i}`, value: b("") })))],
      ["lease TTL too short", () => s.grantLease(10)],
      ["watch from revision 0", () => s.watch("", 0, collector().handler)],
      ["list after an empty key", () => s.list("", { after: "" })],
      ["transaction above the request bound", () => s.txn([], Array.from({ length: 127 }, (_, i) => ({ type: "put" as const, key: `big${i}`, value: Buffer.alloc(12_300) })))],
    ];
    for (const [name, call] of cases) t.equal(await codeOf(call()), "INVALID_ARGUMENT", name);
    t.equal(await s.revision(), before, "nothing was written");
    t.same((await listAll(s, "")).map((e) => e.key), ["keep"]);
  });

  void t.test("watch sees every change in revision order and resumes from a revision without gaps", async (t) => {
    const s = await fixture.open(t);
    await s.put("w/before", b("0"));
    const from = (await s.revision()) + 1;
    const first = collector();
    let watch: Watch = await s.watch("w/", from, first.handler);
    t.equal(watch.lastRevision, from - 1, "nothing delivered yet");

    // The writes, and the events they must produce under w/.
    const expected: string[] = [];
    const put = async (key: string, value: string) => {
      const r = await s.put(key, b(value));
      if (key.startsWith("w/")) expected.push(`put ${key}=${value} @${r}`);
    };
    for (let i = 0; i < 10; i++) await put(`w/${i % 3}`, `v${i}`);
    await put("x/outside", "ignored");
    const v = (await s.get("w/0"))!.version;
    const tr = await s.txn([{ key: "w/0", version: v }], [
      { type: "put", key: "w/t1", value: b("t") },
      { type: "delete", key: "w/1" },
      { type: "put", key: "x/t", value: b("ignored") },
    ]);
    expected.push(`put w/t1=t @${tr}`, `delete w/1= @${tr}`);
    await s.delete("w/2");
    expected.push(`delete w/2= @${tr + 1}`);
    t.ok(await first.until(expected.length), "every change arrives");
    t.same(summary(first.events), expected, "in revision order, each once, a transaction's changes together");

    // Cut the watch part way, keep writing, and resume from its last revision.
    await watch.close();
    const resumeFrom = watch.lastRevision + 1;
    t.equal(resumeFrom, tr + 2, "the closed watch had seen up to the last change");
    for (let i = 0; i < 5; i++) await put(`w/after${i}`, `a${i}`);
    const second = collector();
    watch = await s.watch("w/", resumeFrom, second.handler);
    await put("w/live", "l");
    t.ok(await second.until(6));
    t.same([...summary(first.events), ...summary(second.events)], expected, "no gap and no repeat across the cut");

    // A watch from an earlier revision replays history first.
    const third = collector();
    const replay = await s.watch("w/", from, third.handler);
    t.ok(await third.until(expected.length));
    t.same(summary(third.events), expected, "history, in order");
    await replay.close();
    await watch.close();
    await put("w/closed", "c");
    await sleep(100);
    t.equal(second.events.length, 6, "a closed watch gets nothing more");
    t.same([...first.errors, ...second.errors, ...third.errors], [], "no watch errors");
  });

  void t.test("a watch from a future revision delivers nothing older; a throwing handler ends only its watch", async (t) => {
    const s = await fixture.open(t);
    const now = await s.put("f/a", b("1"));
    const future = collector();
    await s.watch("f/", now + 3, future.handler);
    const broken: Error[] = [];
    await s.watch("f/", now + 1, {
      onEvents: () => {
        throw new Error("handler bug");
      },
      onError: (err) => {
        broken.push(err);
        throw new Error("error handler bug too");
      },
    });
    const r1 = await s.put("f/b", b("2"));
    await s.put("f/c", b("3"));
    const r3 = await s.put("f/d", b("4"));
    t.ok(await future.until(1));
    t.same(summary(future.events), [`put f/d=4 @${r3}`], "only changes from the asked revision on");
    t.ok(await eventually(() => Promise.resolve(broken.length > 0)), "the throwing watch ended with an error");
    t.same(broken.map((e) => (e as SluiceError).code), ["INTERNAL"], "once, typed INTERNAL");
    t.equal((await s.get("f/b"))?.version, r1, "the store goes on");
    t.equal(await s.put("f/e", b("5")), r3 + 1);
  });

  void t.test("revoking a lease twice at once: both resolve once its keys are gone", async (t) => {
    const s = await fixture.open(t);
    const lease = await s.grantLease(60_000);
    await Promise.all(Array.from({ length: 20 }, (_, i) => s.put(`r/${i}`, b("x"), { lease })));
    await Promise.all([s.revokeLease(lease), s.revokeLease(lease)]);
    t.same(await listAll(s, "r/"), [], "no leased key is left when either revoke resolves");
  });

  void t.test("a lease not kept alive expires and its keys disappear", async (t) => {
    const s = await fixture.open(t);
    const ttlMs = 1000;
    const lease = await s.grantLease(ttlMs);
    await s.put("l/a", b("a"), { lease });
    await s.txn([{ key: "l/b", version: 0 }], [{ type: "put", key: "l/b", value: b("b"), lease }]);
    await s.put("l/free", b("stays"));
    t.equal((await s.get("l/a"))?.lease, lease, "the key names its lease");
    const events = collector();
    const watch = await s.watch("l/", (await s.revision()) + 1, events.handler);

    // Kept alive, it outlives its TTL several times.
    for (let i = 0; i < 4; i++) {
      await fixture.passTime(ttlMs / 2);
      await s.keepAlive(lease);
    }
    t.same((await listAll(s, "l/")).map((e) => e.key), ["l/a", "l/b", "l/free"], "kept alive: keys stay");

    // Not kept alive, it expires and takes its keys with it.
    await fixture.passTime(ttlMs * 3);
    t.ok(await eventually(async () => (await s.get("l/a")) === undefined && (await s.get("l/b")) === undefined), "leased keys vanish");
    t.equal((await s.get("l/free"))?.value.toString(), "stays", "other keys stay");
    t.ok(await events.until(2), "the watch sees the deletes");
    t.same(events.events.map((e) => `${e.type} ${e.key}`).sort(), ["delete l/a", "delete l/b"]);
    t.equal(await codeOf(s.keepAlive(lease)), "LEASE_NOT_FOUND", "an expired lease cannot be kept alive");
    t.equal(await codeOf(s.put("l/c", b("c"), { lease })), "LEASE_NOT_FOUND", "nor can keys be attached to it");
    t.equal(await s.get("l/c"), undefined);
    await watch.close();

    // Revoke ends a lease at once.
    const other = await s.grantLease(60_000);
    await s.put("l/r", b("r"), { lease: other });
    await s.revokeLease(other);
    t.equal(await s.get("l/r"), undefined, "revoke deletes the lease's keys");
    await s.revokeLease(other);
    t.pass("revoking a lease already gone is not an error");
    t.equal(await codeOf(s.keepAlive("12345")), "LEASE_NOT_FOUND", "an unknown lease is not found");
  });

  void t.test("a closed store refuses calls with CLOSED", async (t) => {
    const s = await fixture.open(t);
    await s.put("k", b("v"));
    await s.close();
    t.equal(await codeOf(s.get("k")), "CLOSED");
    t.equal(await codeOf(s.put("k", b("w"))), "CLOSED");
  });
}
