// Proves the embedded metadata store keeps writes across reopen, lets exactly one of racing CAS writers win, and cuts a torn tail.
import t from "tap";
import { open, stat } from "node:fs/promises";
import { join } from "node:path";
import { FileMetadataStore } from "./file-metadata-store.js";

void t.test("put, get, list, delete survive reopen", async (t) => {
  const dir = t.testdir();
  const s = await FileMetadataStore.open(dir);
  const v1 = await s.put("scopes/a", Buffer.from("1"));
  const v2 = await s.put("scopes/b", Buffer.from("2"));
  await s.put("streams/a/x", Buffer.from("3"));
  t.ok(v2 > v1);
  t.equal(await s.delete("scopes/b"), true);
  t.equal(await s.delete("scopes/b"), false);
  await s.close();
  const r = await FileMetadataStore.open(dir);
  t.same((await r.list("scopes/")).map((v) => [v.key, v.value.toString(), v.version]), [["scopes/a", "1", v1]]);
  t.equal((await r.get("streams/a/x"))?.value.toString(), "3");
  t.equal(r.revision(), 4);
  await r.close();
});

void t.test("compare-and-set: exactly one racing writer wins, the loser changes nothing", async (t) => {
  const s = await FileMetadataStore.open(t.testdir());
  const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => s.compareAndSet("k", 0, Buffer.from(`w${i}`))));
  const won = results.filter((r) => r.status === "fulfilled");
  t.equal(won.length, 1);
  for (const r of results) if (r.status === "rejected") t.equal((r.reason as { code: string }).code, "CONDITIONAL_CHECK_FAILED");
  const v = await s.get("k");
  t.equal(v?.value.toString(), "w0");
  await t.rejects(s.delete("k", v!.version + 1), { code: "CONDITIONAL_CHECK_FAILED" });
  t.equal((await s.get("k"))?.value.toString(), "w0");
  await t.rejects(s.put("", Buffer.alloc(1)), { code: "INVALID_ARGUMENT" });
  await s.close();
  await t.rejects(s.put("k", Buffer.alloc(1)), { code: "CLOSED" });
});

void t.test("a torn last record is cut at reopen", async (t) => {
  const dir = t.testdir();
  const s = await FileMetadataStore.open(dir);
  await s.put("a", Buffer.from("kept"));
  await s.put("b", Buffer.from("torn"));
  await s.close();
  const path = join(dir, "metadata.log");
  const size = (await stat(path)).size;
  const fh = await open(path, "r+");
  await fh.truncate(size - 30); // past the batch marker, into the last record
  await fh.close();
  const r = await FileMetadataStore.open(dir);
  t.equal((await r.get("a"))?.value.toString(), "kept");
  t.equal(await r.get("b"), undefined);
  await r.put("c", Buffer.from("after"));
  await r.close();
  const again = await FileMetadataStore.open(dir);
  t.equal((await again.get("c"))?.value.toString(), "after");
  await again.close();
});
