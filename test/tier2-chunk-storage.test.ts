// Proves the ChunkStorage contract (segmentstore/tier2/chunk-storage.ts) against both implementations, with one
// suite: FileChunkStorage on a temp folder and S3ChunkStorage on a real Ceph radosgw started here (stopped at the
// end). Then S3 alone, through an HTTP fault proxy: 503s that pass and 503s that do not, a PUT whose answer is lost,
// answers slower than the request deadline; and bad credentials, a missing bucket and bad --tier2 specs.
import t, { type Test } from "tap";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MiB } from "../common/index.js";
import { startRadosgw, type Radosgw } from "../perf/support/radosgw.js";
import type { ChunkInfo, ChunkStorage } from "../segmentstore/tier2/chunk-storage.js";
import { FileChunkStorage } from "../segmentstore/tier2/file-chunk-storage.js";
import { openChunkStorage } from "../segmentstore/tier2/open-chunk-storage.js";
import { S3ChunkStorage, type S3ChunkStorageConfig } from "../segmentstore/tier2/s3-chunk-storage.js";
import { startS3FaultProxy, type S3FaultProxy } from "./support/s3-fault-proxy.js";

let gw: Radosgw;
let dir: string;
t.before(async () => {
  const started = Date.now();
  gw = await startRadosgw();
  t.comment(`radosgw up in ${Date.now() - started} ms at ${gw.endpoint}`);
  dir = await mkdtemp(join(tmpdir(), "sluice-tier2-"));
});
t.teardown(async () => {
  await gw.stop();
  await rm(dir, { recursive: true, force: true });
});

/** S3's smallest part is 5 MiB: chunks from 6 MiB go up in 5 MiB parts, so multipart is tested with little data. */
const partBytes = 5 * MiB;
const multipartBytes = 6 * MiB;

function s3Config(prefix: string, extra: Partial<S3ChunkStorageConfig> = {}): S3ChunkStorageConfig {
  return {
    endpoint: gw.endpoint, bucket: gw.bucket, prefix, multipartBytes, partBytes, listPageKeys: 3,
    credentials: { accessKeyId: gw.accessKeyId, secretAccessKey: gw.secretAccessKey }, ...extra,
  };
}

/** Deterministic bytes, different per seed. */
function bytes(length: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + seed * 17 + (i >> 12)) & 0xff;
  return b;
}

async function listAll(storage: ChunkStorage, prefix: string): Promise<ChunkInfo[]> {
  const out: ChunkInfo[] = [];
  for await (const c of storage.list(prefix)) out.push(c);
  return out;
}

const listNames = ["lst/b", "lst/a/x", "lst/a-b", "lst/a.c", "lst/a/y/z", "lst/ab", "lst/a%20"];

/** The contract, run against one implementation. */
function contract(kind: string, make: () => Promise<ChunkStorage>): void {
  void t.test(`${kind}: the ChunkStorage contract`, async (t: Test) => {
    const storage = await make();
    t.teardown(() => storage.close());

    await t.test("create then read: whole, ranges, zero length, pieces joined", async (t) => {
      await storage.create("seg/0/c-1", [Buffer.from("hello "), Buffer.from("chunk "), Buffer.from("world")]);
      t.equal((await storage.read("seg/0/c-1", 0, 17)).toString(), "hello chunk world");
      t.equal((await storage.read("seg/0/c-1", 6, 5)).toString(), "chunk");
      t.equal((await storage.read("seg/0/c-1", 16, 1)).toString(), "d");
      t.equal((await storage.read("seg/0/c-1", 17, 0)).length, 0, "an empty read at the end");
      await storage.create("seg/0/one", [Buffer.from("single")]);
      t.equal((await storage.read("seg/0/one", 0, 6)).toString(), "single");
    });

    await t.test("a large chunk (multipart on S3) reads back byte for byte, across part boundaries", async (t) => {
      const data = bytes(11 * MiB + 123, 1);
      // Pieces that do not line up with the 5 MiB parts.
      await storage.create("seg/0/big", [data.subarray(0, 3 * MiB + 7), data.subarray(3 * MiB + 7, 9 * MiB), data.subarray(9 * MiB)]);
      t.ok((await storage.read("seg/0/big", 0, data.length)).equals(data), "whole");
      t.ok((await storage.read("seg/0/big", 5 * MiB - 10, 20)).equals(data.subarray(5 * MiB - 10, 5 * MiB + 10)), "across a part boundary");
      t.ok((await storage.read("seg/0/big", data.length - 5, 5)).equals(data.subarray(data.length - 5)), "the last bytes");
      await storage.create("seg/0/big", [data]);
      t.pass("creating it again with the same bytes (one piece) resolves");
      await t.rejects(storage.create("seg/0/big", [bytes(11 * MiB + 123, 2)]), { code: "CHUNK_EXISTS" });
      t.ok((await storage.read("seg/0/big", 0, data.length)).equals(data), "and the chunk is unchanged");
    });

    await t.test("reads past the end are INVALID_ARGUMENT; absent chunks NO_SUCH_CHUNK", async (t) => {
      await t.rejects(storage.read("seg/0/c-1", 10, 8), { code: "INVALID_ARGUMENT", message: /10-17 are past its end/ });
      await t.rejects(storage.read("seg/0/c-1", 17, 1), { code: "INVALID_ARGUMENT" });
      await t.rejects(storage.read("seg/0/c-1", 100, 5), { code: "INVALID_ARGUMENT" });
      await t.rejects(storage.read("seg/0/c-1", 18, 0), { code: "INVALID_ARGUMENT" });
      await t.rejects(storage.read("seg/0/c-1", -1, 1), { code: "INVALID_ARGUMENT" });
      await t.rejects(storage.read("seg/0/nothing", 0, 1), { code: "NO_SUCH_CHUNK" });
      await t.rejects(storage.read("nowhere/at/all", 0, 0), { code: "NO_SUCH_CHUNK" });
    });

    await t.test("create never overwrites: same bytes resolve, other bytes CHUNK_EXISTS and change nothing", async (t) => {
      await storage.create("seg/1/c", [Buffer.from("first")]);
      await storage.create("seg/1/c", [Buffer.from("fi"), Buffer.from("rst")]);
      await t.rejects(storage.create("seg/1/c", [Buffer.from("other")]), { code: "CHUNK_EXISTS", message: /never overwritten/ });
      await t.rejects(storage.create("seg/1/c", [Buffer.from("longer bytes")]), { code: "CHUNK_EXISTS" });
      t.equal((await storage.read("seg/1/c", 0, 5)).toString(), "first");
    });

    await t.test("delete removes a chunk and is idempotent", async (t) => {
      await storage.create("seg/2/d", [Buffer.from("doomed")]);
      await storage.delete("seg/2/d");
      await storage.delete("seg/2/d");
      await storage.delete("never/was");
      await t.rejects(storage.read("seg/2/d", 0, 1), { code: "NO_SUCH_CHUNK" });
      t.same(await listAll(storage, "seg/2/"), []);
    });

    await t.test("list yields every chunk under a prefix, in name order, page by page", async (t) => {
      for (const [i, name] of listNames.entries()) await storage.create(name, [bytes(i + 1, i)]);
      const expected = [...listNames].sort().map((name) => ({ name, bytes: listNames.indexOf(name) + 1 }));
      t.same(await listAll(storage, "lst/"), expected, "all seven, in byte order of their names (more than one page on S3)");
      t.same((await listAll(storage, "lst/a")).map((c) => c.name), expected.map((c) => c.name).filter((n) => n.startsWith("lst/a")), "a prefix that ends inside a part");
      t.same((await listAll(storage, "lst/a/")).map((c) => c.name), ["lst/a/x", "lst/a/y/z"]);
      t.same(await listAll(storage, "none/"), []);
      t.ok((await listAll(storage, "")).length >= listNames.length, "the empty prefix lists everything");
    });

    await t.test("bad names are INVALID_ARGUMENT", async (t) => {
      for (const name of ["", "/abs", "a//b", "a/../b", "./a", "a/.", "..", "sp ace", "a/b~", "a/", "ü"]) {
        await t.rejects(storage.create(name, [Buffer.from("x")]), { code: "INVALID_ARGUMENT" }, JSON.stringify(name));
      }
      await t.rejects(storage.read("../etc/passwd", 0, 1), { code: "INVALID_ARGUMENT" });
      await t.rejects(listAll(storage, "../"), { code: "INVALID_ARGUMENT" });
    });
  });
}

contract("file", () => FileChunkStorage.open(join(dir, "contract")));
contract("s3", () => S3ChunkStorage.open(s3Config("contract")));

void t.test("file: temp files are never listed or read as chunks, open removes those a crash left; folders are no chunks", async (t) => {
  const root = join(dir, "crash");
  const storage = await FileChunkStorage.open(root);
  await storage.create("s/c", [Buffer.from("kept")]);
  await writeFile(join(root, "s", "c2.0123456789ab.tmp~"), "half a chunk");
  t.same((await listAll(storage, "")).map((c) => c.name), ["s/c"]);
  await t.rejects(storage.read("s/c2.0123456789ab.tmp~", 0, 1), { code: "INVALID_ARGUMENT" });
  await FileChunkStorage.open(root);
  t.same(await readdir(join(root, "s")), ["c"], "the leftover temp file is gone");
  // Unlike S3 keys, a file cannot be both a chunk and a folder of chunks.
  await t.rejects(storage.create("s/c/d", [Buffer.from("x")]), { code: "INVALID_ARGUMENT", message: /runs through another chunk/ });
  await t.rejects(storage.read("s", 0, 1), { code: "NO_SUCH_CHUNK" });
  await t.rejects(storage.create("s", [Buffer.from("x")]), { code: "CHUNK_EXISTS" });
});

/** An S3ChunkStorage through a fresh fault proxy, with short deadlines so faults take little time. */
async function behindProxy(t: Test, prefix: string, extra: Partial<S3ChunkStorageConfig> = {}): Promise<{ proxy: S3FaultProxy; storage: S3ChunkStorage }> {
  const proxy = await startS3FaultProxy(gw.endpoint);
  const storage = new S3ChunkStorage(s3Config(prefix, { endpoint: proxy.endpoint, requestTimeoutMs: 1_000, ...extra }));
  t.teardown(async () => {
    await storage.close();
    await proxy.close();
  });
  return { proxy, storage };
}

void t.test("s3: 503 SlowDown for a while, then answers: create and read succeed after retries", async (t) => {
  const { proxy, storage } = await behindProxy(t, "slowdown", { attempts: 5 });
  proxy.setMode("fail503", { times: 3 });
  await storage.create("c/1", [Buffer.from("after three 503s")]);
  t.equal(proxy.counts.failed, 3, "three requests refused, the fourth went through");
  proxy.setMode("fail503", { times: 2 });
  t.equal((await storage.read("c/1", 6, 5)).toString(), "three");
  // A multipart upload retries each of its steps.
  const data = bytes(7 * MiB, 3);
  proxy.setMode("fail503", { times: 2, method: "PUT" });
  await storage.create("c/big", [data]);
  t.ok((await storage.read("c/big", 0, data.length)).equals(data), "multipart after refused parts");
  t.equal(proxy.counts.failed, 7);
});

void t.test("s3: 503 on every try is UNAVAILABLE (retriable), naming the object, and nothing is written", async (t) => {
  const { proxy, storage } = await behindProxy(t, "outage", { attempts: 3 });
  proxy.setMode("fail503");
  const started = Date.now();
  const err = await storage.create("c/1", [Buffer.from("never")]).then(() => undefined, (e: unknown) => e);
  t.match(err, { code: "UNAVAILABLE", retriable: true, message: /PutObject of outage\/c\/1 .* failed 3 times; last: SlowDown/ });
  t.equal(proxy.counts.failed, 3, "tried exactly `attempts` times");
  t.ok(Date.now() - started < 2_000, "backed off briefly between tries");
  await t.rejects(storage.read("c/1", 0, 1), { code: "UNAVAILABLE" });
  proxy.setMode("pass");
  await t.rejects(storage.read("c/1", 0, 1), { code: "NO_SUCH_CHUNK" }, "nothing was written");
});

void t.test("s3: a PUT whose answer is lost is retried; the 412 finds our own bytes and resolves", async (t) => {
  const { proxy, storage } = await behindProxy(t, "lost");
  proxy.setMode("dropResponse", { times: 1, method: "PUT" });
  await storage.create("c/1", [Buffer.from("written once, answered never")]);
  t.equal(proxy.counts.dropped, 1, "the first PUT's answer was dropped after it was written");
  t.equal(proxy.counts.put, 2, "one retry, which got 412");
  t.ok(proxy.counts.head >= 1, "then a HEAD compared length and crc");
  const direct = new S3ChunkStorage(s3Config("lost"));
  t.teardown(() => direct.close());
  t.equal((await direct.read("c/1", 0, 28)).toString(), "written once, answered never");
  // The same for a multipart upload whose completion's answer is lost.
  const data = bytes(6 * MiB + 1, 4);
  proxy.setMode("dropResponse", { times: 1, method: "POST", urlIncludes: "uploadId=" });
  const postsBefore = proxy.counts.post;
  await storage.create("c/big", [data]);
  t.equal(proxy.counts.post - postsBefore, 3, "create, a lost completion, and its retry");
  t.equal(proxy.counts.dropped, 2);
  t.ok((await direct.read("c/big", 0, data.length)).equals(data));
});

void t.test("s3: answers slower than requestTimeoutMs are retried, then UNAVAILABLE", async (t) => {
  const { proxy, storage } = await behindProxy(t, "slow", { requestTimeoutMs: 300, attempts: 3 });
  await storage.create("c/1", [Buffer.from("patience")]);
  proxy.setMode({ delayMs: 1_000 }, { times: 1 });
  t.equal((await storage.read("c/1", 0, 8)).toString(), "patience", "the second try answered in time");
  t.equal(proxy.counts.delayed, 1);
  proxy.setMode({ delayMs: 1_000 });
  const started = Date.now();
  await t.rejects(storage.read("c/1", 0, 8), { code: "UNAVAILABLE", retriable: true, message: /3 times/ });
  t.ok(Date.now() - started < 2_500, `gave up after ${Date.now() - started} ms`);
});

void t.test("s3: refused credentials are AUTH_FAILED; a missing bucket INVALID_CONFIG", async (t) => {
  const wrongSecret = { credentials: { accessKeyId: gw.accessKeyId, secretAccessKey: "not-the-secret" } };
  await t.rejects(S3ChunkStorage.open(s3Config("auth", wrongSecret)), { code: "AUTH_FAILED", message: /AWS_SECRET_ACCESS_KEY/ });
  const unknownKey = { credentials: { accessKeyId: "NOSUCHKEY", secretAccessKey: "x" } };
  await t.rejects(S3ChunkStorage.open(s3Config("auth", unknownKey)), { code: "AUTH_FAILED" });
  const storage = new S3ChunkStorage(s3Config("auth", wrongSecret));
  t.teardown(() => storage.close());
  await t.rejects(storage.create("c", [Buffer.from("x")]), { code: "AUTH_FAILED" });
  await t.rejects(storage.read("c", 0, 1), { code: "AUTH_FAILED" });
  await t.rejects(S3ChunkStorage.open(s3Config("p", { bucket: "no-such-bucket" })),
    { code: "INVALID_CONFIG", message: `bucket no-such-bucket does not exist at ${gw.endpoint}; create it first` });
  const orphan = new S3ChunkStorage(s3Config("p", { bucket: "no-such-bucket" }));
  t.teardown(() => orphan.close());
  await t.rejects(orphan.create("c", [Buffer.from("x")]), { code: "INVALID_CONFIG" });
});

void t.test("openChunkStorage: file:// and s3:// specs open; bad ones are INVALID_CONFIG naming the forms", async (t) => {
  const file = await openChunkStorage(`file://${join(dir, "spec")}`, "");
  t.equal(file.description, `file://${join(dir, "spec")}`);
  await file.close();
  process.env["AWS_ACCESS_KEY_ID"] = gw.accessKeyId;
  process.env["AWS_SECRET_ACCESS_KEY"] = gw.secretAccessKey;
  const s3 = await openChunkStorage(`s3://${gw.bucket}/some/prefix/`, gw.endpoint);
  t.equal(s3.description, `s3://${gw.bucket}/some/prefix at ${gw.endpoint}`);
  await s3.create("c", [Buffer.from("via env credentials")]);
  await s3.close();
  const bad: [string, string][] = [
    ["", ""], ["/tmp/x", ""], ["ftp://x", ""], ["file://", ""], ["s3://", "http://127.0.0.1:1"],
    ["s3://Bad_Bucket", "http://127.0.0.1:1"], ["s3://ab", "http://127.0.0.1:1"], ["s3://a..b/p", "http://127.0.0.1:1"],
    ["s3://192.168.1.1", "http://127.0.0.1:1"], ["s3://bucket/a//b", "http://127.0.0.1:1"], ["s3://bucket/a/../b", "http://127.0.0.1:1"],
    ["s3://bucket/p", ""], ["s3://bucket/p", "not a url"], ["s3://bucket/p", "ftp://127.0.0.1:1"],
    ["s3://bucket/p", "http://127.0.0.1:1/path"],
  ];
  for (const [spec, endpoint] of bad) {
    await t.rejects(openChunkStorage(spec, endpoint), { code: "INVALID_CONFIG", message: /file:\/\/DIR \| s3:\/\/BUCKET\[\/PREFIX\] --s3-endpoint URL/ },
      `${JSON.stringify(spec)} with ${JSON.stringify(endpoint)}`);
  }
});
