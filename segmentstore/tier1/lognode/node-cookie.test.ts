// Proves a log node's cookie: made once, kept across restarts and moves of its directory, new after a wipe, refused
// when damaged, and answered over the wire (ReadNodeIdentity) as in-process; by opening real storage in temp dirs.
import t from "tap";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { RemoteLogNode } from "../remote-log-node.js";
import { cookieFileName } from "./node-cookie.js";
import { LedgerStorage } from "./ledger-storage.js";
import { LogNodeServer } from "./log-node-server.js";

async function identityIn(dir: string): Promise<string> {
  const storage = await LedgerStorage.open(dir);
  try {
    return await storage.instanceId();
  } finally {
    await storage.close();
  }
}

void t.test("the instance id survives restarts and a move of the directory, and changes when the directory is wiped", async (t) => {
  const root = t.testdir();
  const dir = join(root, "a", "lognode");
  const first = await identityIn(dir);
  t.match(first, /^[0-9a-f-]{36}$/);
  t.equal(await identityIn(dir), first, "the same after a restart");
  await mkdir(join(root, "b"));
  await rename(join(root, "a", "lognode"), join(root, "b", "lognode"));
  t.equal(await identityIn(join(root, "b", "lognode")), first, "the same from another path");
  await rm(join(root, "b", "lognode"), { recursive: true });
  t.not(await identityIn(join(root, "b", "lognode")), first, "a wiped directory is another instance");
});

void t.test("a cookie that does not parse refuses the start with DATA_CORRUPTION", async (t) => {
  const dir = t.testdir();
  await identityIn(dir);
  await writeFile(join(dir, cookieFileName), "{ not json");
  await t.rejects(LedgerStorage.open(dir), { code: "DATA_CORRUPTION", message: /cookie/ });
  await writeFile(join(dir, cookieFileName), JSON.stringify({ format: 1, instanceId: "x" }));
  await t.rejects(LedgerStorage.open(dir), { code: "DATA_CORRUPTION" });
});

void t.test("a remote node answers the same instance id over the wire", async (t) => {
  const storage = await LedgerStorage.open(t.testdir());
  const server = await LogNodeServer.listen(storage, "127.0.0.1", 0);
  const remote = new RemoteLogNode("127.0.0.1", server.port);
  t.teardown(async () => {
    await remote.close();
    await server.close();
    await storage.close();
  });
  t.equal(await remote.instanceId(), await storage.instanceId());
});
