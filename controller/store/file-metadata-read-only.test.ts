// Proves the embedded store's directory lock and its read-only open: a second writer of a store is refused with
// DATA_DIR_LOCKED; a read-only open beside the live owner reads its state, leaves a torn tail in place (sizes compared)
// and refuses writes; a missing directory is INVALID_CONFIG, not created.
import t from "tap";
import { appendFile, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { FileMetadataStore } from "./file-metadata-store.js";

const b = (s: string) => Buffer.from(s, "utf8");

void t.test("one writer per store; read-only beside it reads, repairs nothing, writes nothing", async (t) => {
  const dir = t.testdir();
  const owner = await FileMetadataStore.open(dir);
  t.teardown(() => owner.close());
  await owner.put("a", b("1"));
  await owner.put("b", b("2"));
  await t.rejects(FileMetadataStore.open(dir), { code: "DATA_DIR_LOCKED", message: /is in use by pid \d+ .*metadata store/ });

  const log = join(dir, (await readdir(dir)).find((n) => /^log-\d+$/.test(n))!);
  await appendFile(log, Buffer.alloc(30, 0)); // a batch being written, or torn
  const sizeBefore = (await stat(log)).size;
  const reader = await FileMetadataStore.open(dir, { readOnly: true });
  t.equal((await reader.get("a"))?.value.toString(), "1");
  t.equal((await reader.list("")).entries.length, 2, "the owner's state, up to its last whole batch");
  await t.rejects(reader.put("c", b("3")), { code: "INVALID_ARGUMENT", message: /opened read-only/ });
  await t.rejects(reader.grantLease(5_000), { code: "INVALID_ARGUMENT" });
  await reader.close();
  t.equal((await stat(log)).size, sizeBefore, "the tail was left as it was");

  await t.rejects(FileMetadataStore.open(join(dir, "missing"), { readOnly: true }), { code: "INVALID_CONFIG", message: /holds no metadata store/ });
  t.notOk((await readdir(dir)).includes("missing"), "and nothing was created");
  await owner.close();
  t.notOk((await readdir(dir)).includes("sluice.lock"), "close releases the lock");
  const next = await FileMetadataStore.open(dir);
  t.equal((await next.get("b"))?.value.toString(), "2", "the next owner opens it");
  await next.close();
});
