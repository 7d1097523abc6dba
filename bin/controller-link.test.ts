// Proves the segment store's gRPC link to the controllers against real gRPC servers on 127.0.0.1: it fails over from
// a controller that is down (UNAVAILABLE) to the next, then keeps using the one that answered; an error the controller
// raised itself is not failed over; and bad --controller lists are INVALID_CONFIG.
import t, { type Test } from "tap";
import * as grpc from "@grpc/grpc-js";
import { freePorts } from "../common/index.js";
import { controllerServiceDefinition, errorCodeMetadataKey, type HeartbeatRequest, type HeartbeatResponse } from "../proto/index.js";
import { GrpcControllerLink, parseControllerTargets } from "./controller-link.js";

/** A gRPC server answering Heartbeat (or failing it with INVALID_ARGUMENT when asked), counting calls. */
async function fakeController(t: Test, fail = false): Promise<{ port: number; calls: () => number }> {
  let calls = 0;
  const server = new grpc.Server();
  const heartbeat: grpc.handleUnaryCall<HeartbeatRequest, HeartbeatResponse> = (call, callback) => {
    calls++;
    if (!fail) {
      callback(null, { leaseId: `lease-of-${call.request.storeId}`, leaseMs: 10_000 });
      return;
    }
    const metadata = new grpc.Metadata();
    metadata.set(errorCodeMetadataKey, "INVALID_ARGUMENT");
    callback({ code: grpc.status.INVALID_ARGUMENT, details: "port must be an integer in [1, 65535]", metadata });
  };
  server.addService(controllerServiceDefinition, { Heartbeat: heartbeat });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err === null ? resolve(p) : reject(err))));
  t.teardown(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
  return { port, calls: () => calls };
}

const req: HeartbeatRequest = { storeId: "ss-1", host: "127.0.0.1", port: 12345, leaseId: "" };

void t.test("fails over from a controller that is down, then sticks with the one that answered", async (t) => {
  const [deadPort] = (await freePorts(1)) as [number];
  const live = await fakeController(t);
  const link = new GrpcControllerLink(`tcp://127.0.0.1:${deadPort},tcp://127.0.0.1:${live.port}`, 2_000);
  t.teardown(() => link.close());
  t.same(await link.heartbeat(req), { leaseId: "lease-of-ss-1", leaseMs: 10_000 });
  const startMs = Date.now();
  await link.heartbeat(req);
  t.ok(Date.now() - startMs < 1_000, "the second call goes straight to the controller that answered");
  t.equal(live.calls(), 2);
});

void t.test("an error the controller raised is not failed over", async (t) => {
  const bad = await fakeController(t, true);
  const good = await fakeController(t);
  const link = new GrpcControllerLink(`tcp://127.0.0.1:${bad.port},tcp://127.0.0.1:${good.port}`, 2_000);
  t.teardown(() => link.close());
  await t.rejects(link.heartbeat(req), { code: "INVALID_ARGUMENT" });
  t.equal(good.calls(), 0, "the other controller was not asked");
  const allDown = new GrpcControllerLink(`tcp://127.0.0.1:${(await freePorts(1))[0]}`, 1_000);
  t.teardown(() => allDown.close());
  await t.rejects(allDown.heartbeat(req), { code: /^(UNAVAILABLE|TIMEOUT)$/ }, "with every controller down the last error is raised");
});

void t.test("controller lists are parsed strictly", async (t) => {
  t.same(parseControllerTargets("tcp://a:1,tcp://10.0.0.2:9090"), ["a:1", "10.0.0.2:9090"]);
  for (const bad of ["", "a:1", "tcp://a", "tcp://a:0", "tcp://a:70000", "http://a:1", "tcp://a:1,,tcp://b:2"]) {
    t.throws(() => parseControllerTargets(bad), { code: "INVALID_CONFIG", message: /^--controller: / }, JSON.stringify(bad));
  }
});
