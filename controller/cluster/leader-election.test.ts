// Proves controller leader election: of two controllers on one embedded metadata store (lease time from a
// ManualClock) exactly one leads, closing the leader hands over at once (it revokes its lease), a leader whose
// keepAlive fails steps down before its lease could have expired, and one told LEASE_NOT_FOUND steps down at
// once; then the same election between two controllers on a real etcd child process.
import t, { type Test } from "tap";
import { LeaseNotFoundError, ManualClock, UnavailableError } from "../../common/index.js";
import { EtcdMetadataStore, FileMetadataStore, type MetadataStore } from "../store/index.js";
import { startEtcd } from "../store/etcd-server.js";
import { LeaderElection, leaderKey, readLeader } from "./leader-election.js";

const leaseMs = 3_000;

/** Polls `check` in real time (the store's writes take real time even on a ManualClock). */
async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Lets the election's pending store calls finish. */
function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 50));
}

/** The store, with keepAlive answered by `fail` when it returns an error. */
function failingKeepAlive(store: MetadataStore, fail: () => Error | undefined): MetadataStore {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === "keepAlive") {
        return (lease: string) => {
          const err = fail();
          return err === undefined ? target.keepAlive(lease) : Promise.reject(err);
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

async function embedded(t: Test): Promise<{ store: FileMetadataStore; clock: ManualClock }> {
  const clock = new ManualClock();
  const store = await FileMetadataStore.open(t.testdir(), { clock });
  t.teardown(() => store.close());
  return { store, clock };
}

void t.test("one leader among two; close hands over at once", async (t) => {
  const { store, clock } = await embedded(t);
  const a = new LeaderElection(store, "ctl-a", { leaseMs }, clock);
  const b = new LeaderElection(store, "ctl-b", { leaseMs }, clock);
  t.teardown(() => Promise.all([a.close(), b.close()]));
  const changes: string[] = [];
  a.onChange((l) => changes.push(`a:${l}`));
  const stopB = b.onChange((l) => changes.push(`b:${l}`));
  await a.start();
  await b.start();
  t.ok(a.isLeader(), "the first to campaign leads");
  t.notOk(b.isLeader(), "the other follows");
  t.same((await readLeader(store))?.id, "ctl-a");

  // Time passes: the leader keeps its lease alive; nothing changes.
  for (let i = 0; i < 10; i++) {
    clock.advance(leaseMs / 3);
    await settle();
  }
  t.ok(a.isLeader() && !b.isLeader(), "after 10 renewals a still leads alone");
  t.same(changes, ["a:true"]);

  await a.close();
  t.notOk(a.isLeader());
  t.ok(await until(() => b.isLeader()), "b takes over without waiting for the lease (the watch saw the key go)");
  t.same((await readLeader(store))?.id, "ctl-b");
  t.same(changes, ["a:true", "a:false", "b:true"]);
  stopB();
  await b.close();
  t.equal(await store.get(leaderKey), undefined, "closing the last leader revokes its lease and key");
  t.same(changes, ["a:true", "a:false", "b:true"], "an unsubscribed listener is not called");
});

void t.test("a leader that cannot keep its lease alive steps down before the lease expires", async (t) => {
  const { store, clock } = await embedded(t);
  let failing = false;
  const a = new LeaderElection(failingKeepAlive(store, () => (failing ? new UnavailableError("test: metadata unreachable") : undefined)), "ctl-a", { leaseMs }, clock);
  const b = new LeaderElection(store, "ctl-b", { leaseMs }, clock);
  t.teardown(() => Promise.all([a.close(), b.close()]));
  const changes: boolean[] = [];
  a.onChange((l) => changes.push(l));
  await a.start();
  await b.start();
  t.ok(a.isLeader());
  failing = true;
  let steppedDownAtMs = -1;
  const startMs = clock.monotonicMs();
  for (let elapsedMs = 100; elapsedMs <= leaseMs; elapsedMs += 100) {
    clock.advance(100);
    await settle();
    if (!a.isLeader() && steppedDownAtMs < 0) {
      steppedDownAtMs = clock.monotonicMs() - startMs;
      t.ok((await store.get(leaderKey)) !== undefined || b.isLeader(), "stepped down while its lease could still be alive");
    }
  }
  t.ok(steppedDownAtMs > 0 && steppedDownAtMs < leaseMs, `stepped down ${steppedDownAtMs} ms after its last renewal, before the ${leaseMs} ms lease`);
  t.same(changes, [true, false], "onChange(false) told the loops");
  t.ok(await until(async () => {
    clock.advance(leaseMs / 3);
    await settle();
    return b.isLeader();
  }), "the other controller takes over");
  t.notOk(a.isLeader(), "never two leaders");
});

void t.test("a leader told LEASE_NOT_FOUND steps down at once and campaigns again", async (t) => {
  const { store, clock } = await embedded(t);
  let expired = false;
  const a = new LeaderElection(failingKeepAlive(store, () => (expired ? new LeaseNotFoundError("test: lease gone") : undefined)), "ctl-a", { leaseMs }, clock);
  t.teardown(() => a.close());
  const changes: boolean[] = [];
  a.onChange((l) => changes.push(l));
  await a.start();
  t.ok(a.isLeader());
  expired = true;
  clock.advance(leaseMs / 3);
  t.ok(await until(() => changes.length >= 2), "told at the first failed renewal");
  t.same(changes.slice(0, 2), [true, false]);
  // The fake only said the lease was gone: the key goes once the real lease expires, and then it wins again.
  expired = false;
  t.ok(await until(async () => {
    clock.advance(leaseMs / 3);
    await settle();
    return a.isLeader();
  }), "leads again once the key is free");
});

void t.test("etcd: one leader among two controllers, and hand-over on close", async (t) => {
  const etcd = await startEtcd();
  t.teardown(() => etcd.stop());
  const s1 = await EtcdMetadataStore.connect(etcd.url);
  const s2 = await EtcdMetadataStore.connect(etcd.url);
  t.teardown(async () => {
    await s1.close();
    await s2.close();
  });
  const a = new LeaderElection(s1, "ctl-a", { leaseMs: 1_000 });
  const b = new LeaderElection(s2, "ctl-b", { leaseMs: 1_000 });
  t.teardown(() => Promise.all([a.close(), b.close()]));
  await Promise.all([a.start(), b.start()]);
  t.ok(await until(() => a.isLeader() !== b.isLeader(), 5_000), "exactly one leads");
  await new Promise((r) => setTimeout(r, 2_500));
  t.ok(a.isLeader() !== b.isLeader(), "still exactly one after two lease lifetimes (keepAlive works)");
  const [leader, follower] = a.isLeader() ? [a, b] : [b, a];
  t.same((await readLeader(s1))?.id, leader.id);
  const closedAtMs = Date.now();
  await leader.close();
  t.ok(await until(() => follower.isLeader(), 5_000), "the follower takes over");
  t.ok(Date.now() - closedAtMs < 1_000, `hand-over took ${Date.now() - closedAtMs} ms, less than the lease`);
  t.same((await readLeader(s2))?.id, follower.id);
});
