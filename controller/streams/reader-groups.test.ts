// Proves reader-group configs: create is idempotent for the same config and refuses another, updates need the generation read, every bad input is a typed error that stores nothing.
import t, { type Test } from "tap";
import { ManualClock, NoSuchStreamError, NoSuchScopeError } from "../../common/index.js";
import { FileMetadataStore } from "../store/index.js";
import { ReaderGroups } from "./reader-groups.js";

async function open(t: Test) {
  const store = await FileMetadataStore.open(t.testdir());
  t.teardown(() => store.close());
  const groups = new ReaderGroups(
    store,
    {
      checkScope: (scope) => (scope === "shop" ? Promise.resolve() : Promise.reject(new NoSuchScopeError(`scope ${scope} does not exist`))),
      checkStream: (scope, stream) => (stream === "orders" || stream === "clicks" ? Promise.resolve() : Promise.reject(new NoSuchStreamError(`stream ${scope}/${stream} does not exist`))),
    },
    new ManualClock(),
  );
  return { store, groups };
}

const config = { streams: [{ stream: "shop/orders" }], checkpointIntervalMs: 1000 };

void t.test("create, get, update by generation, delete", async (t) => {
  const { groups } = await open(t);
  t.same(await groups.create("shop", "billing", config), { created: true, generation: 1 });
  t.same(await groups.create("shop", "billing", config), { created: false, generation: 1 }, "same config again: not created, no error");
  await t.rejects(groups.create("shop", "billing", { ...config, checkpointIntervalMs: 5 }), { code: "READER_GROUP_EXISTS" });
  t.same(await groups.get("shop", "billing"), { config, generation: 1 });
  const next = { streams: [{ stream: "shop/orders" }, { stream: "shop/clicks" }], checkpointIntervalMs: 0 };
  t.equal(await groups.update("shop", "billing", next, 1), 2);
  await t.rejects(groups.update("shop", "billing", config, 1), { code: "CONDITIONAL_CHECK_FAILED", message: /generation 2/ });
  t.same((await groups.get("shop", "billing")).config, next, "the losing update changed nothing");
  t.equal(await groups.delete("shop", "billing"), true);
  t.equal(await groups.delete("shop", "billing"), false);
  await t.rejects(groups.get("shop", "billing"), { code: "NO_SUCH_READER_GROUP" });
  await t.rejects(groups.update("shop", "billing", config, 2), { code: "NO_SUCH_READER_GROUP" });
});

void t.test("bad input is a typed error and stores nothing", async (t) => {
  const { groups, store } = await open(t);
  await t.rejects(groups.create("shop", "bad name", config), { code: "INVALID_NAME" });
  await t.rejects(groups.create("shop", "g", undefined), { code: "INVALID_ARGUMENT", message: /needs a config/ });
  await t.rejects(groups.create("shop", "g", { streams: [], checkpointIntervalMs: 0 }), { code: "INVALID_ARGUMENT", message: /1 to 100 streams/ });
  await t.rejects(groups.create("shop", "g", { ...config, checkpointIntervalMs: -1 }), { code: "INVALID_ARGUMENT", message: /checkpointIntervalMs/ });
  await t.rejects(groups.create("shop", "g", { streams: [{ stream: "orders" }], checkpointIntervalMs: 0 }), { code: "INVALID_NAME", message: /scope\/stream/ });
  await t.rejects(groups.create("shop", "g", { streams: [{ stream: "shop/nope" }], checkpointIntervalMs: 0 }), { code: "NO_SUCH_STREAM" });
  await t.rejects(groups.create("elsewhere", "g", config), { code: "NO_SUCH_SCOPE" });
  await t.rejects(groups.create("shop", "g", { streams: [{ stream: "shop/orders" }, { stream: "shop/orders" }], checkpointIntervalMs: 0 }), { code: "INVALID_ARGUMENT", message: /twice/ });
  t.equal((await store.list("readergroups/")).entries.length, 0, "nothing stored");
});
