// Acceptance of [3/8 metadata]: `sluice controller --metadata etcd://...` runs against a real etcd (Debian
// etcd-server, started here on 127.0.0.1 and stopped by pid); a controller killed with SIGKILL and restarted keeps
// every scope and stream, and the data written through it reads back. Also: a controller refuses a container
// count that differs from the one its metadata was created with, and a bad --metadata URI.
import t from "tap";
import { Sluice } from "../client/index.js";
import { startEtcd } from "../controller/store/etcd-server.js";
import { freePorts, startSluiceProcess, type SluiceProcess } from "../perf/support/standalone-process.js";
import { readAllByKey, testEvent } from "./support/events.js";

void t.test("a controller on etcd keeps scopes and streams across SIGKILL and restart", async (t) => {
  const etcd = await startEtcd();
  t.teardown(() => etcd.stop());
  const [controllerPort, storePort] = await freePorts(2);
  const store = await startSluiceProcess("segmentstore", ["--data-dir", t.testdir(), "--port", String(storePort)]);
  t.teardown(() => store.kill());
  const controllerArgs = ["--metadata", etcd.url, "--port", String(controllerPort), "--segmentstore", `tcp://127.0.0.1:${storePort}`];
  let controller: SluiceProcess = await startSluiceProcess("controller", controllerArgs);
  t.teardown(() => controller.kill());
  t.match(controller.readyLine, `metadata ${etcd.url}`);

  const uri = `tcp://127.0.0.1:${controllerPort}`;
  let sluice = await Sluice.connect(uri);
  await sluice.admin.createScope("shop");
  await sluice.admin.createScope("iot");
  await sluice.admin.createStream("shop/orders", { scaling: { type: "fixed", minSegments: 3 } });
  await sluice.admin.createStream("shop/clicks", { scaling: { type: "fixed", minSegments: 1 } });
  await sluice.admin.createStream("iot/readings", { scaling: { type: "fixed", minSegments: 2 } });
  const writer = sluice.writer("shop/orders");
  await Promise.all(Array.from({ length: 300 }, (_, i) => writer.write(testEvent(`c${i % 10}`, Math.floor(i / 10)), { routingKey: `c${i % 10}` })));
  await writer.close();
  const before = await sluice.admin.streamInfo("shop/orders");
  await sluice.close();

  await controller.kill();
  controller = await startSluiceProcess("controller", controllerArgs);
  sluice = await Sluice.connect(uri);
  t.same((await sluice.admin.listScopes()).sort(), ["iot", "shop"], "scopes survive the restart");
  t.same((await sluice.admin.listStreams("shop")).sort(), ["clicks", "orders"], "streams survive the restart");
  t.same(await sluice.admin.listStreams("iot"), ["readings"]);
  t.same(await sluice.admin.streamInfo("shop/orders"), before, "segments and config are the same");
  const { total, byKey } = await readAllByKey(sluice, "shop/orders");
  t.equal(total, 300, "the events written before the restart read back");
  t.same(byKey.get("c3"), Array.from({ length: 30 }, (_, i) => i), "in order per key");
  t.equal(await sluice.admin.createScope("shop"), false, "the scope is known to exist");
  await sluice.close();

  // The same metadata with another container count is refused, naming the count to use.
  const wrong = startSluiceProcess("controller", [...controllerArgs.map((a) => (a === String(controllerPort) ? "0" : a)), "--containers", "8"]);
  await t.rejects(wrong, /INVALID_CONFIG: --containers 8 differs from the 4 containers this metadata was created with; use 4/);
});

void t.test("a bad --metadata URI or an unreachable etcd stops the controller with an actionable error", async (t) => {
  await t.rejects(startSluiceProcess("controller", ["--metadata", "zk://somewhere", "--port", "0"]), /INVALID_CONFIG: --metadata zk:\/\/somewhere: use file:\/\/DIR/);
  const [unused] = await freePorts(1);
  await t.rejects(startSluiceProcess("controller", ["--metadata", `etcd://127.0.0.1:${unused}`, "--port", "0"]), /UNAVAILABLE/);
});
