// Proves the hand-written message interfaces match controller.proto: fully populated messages round-trip through the gRPC codecs unchanged.
import t from "tap";
import { controllerMethodNames, controllerServiceDefinition, type GetStreamResponse } from "./controller.js";

void t.test("every rpc has a definition", async (t) => {
  for (const name of controllerMethodNames) t.ok(controllerServiceDefinition[name].path.endsWith(`/${name}`), name);
});

void t.test("a full GetStreamResponse round-trips", async (t) => {
  const def = controllerServiceDefinition.GetStream;
  const value: GetStreamResponse = {
    scope: "shop",
    stream: "orders",
    config: { scaling: { type: "FIXED", minSegments: 4 } },
    epoch: 3,
    segments: [{ segment: "shop/orders/1.#epoch.3", number: 1, epoch: 3, keyStart: 0.25, keyEnd: 0.5 }],
    createdAtMs: 1_700_000_000_123,
  };
  t.same(def.responseDeserialize(def.responseSerialize(value)), value);
});

void t.test("requests and other responses round-trip", async (t) => {
  const cs = controllerServiceDefinition.CreateStream;
  const req = { scope: "s", stream: "x", config: { scaling: { type: "FIXED" as const, minSegments: 7 } } };
  t.same(cs.requestDeserialize(cs.requestSerialize(req)), req);
  const ep = controllerServiceDefinition.GetSegmentEndpoint;
  const res = { host: "127.0.0.1", port: 12345, container: 3 };
  t.same(ep.responseDeserialize(ep.responseSerialize(res)), res);
  const ls = controllerServiceDefinition.ListScopes;
  t.same(ls.responseDeserialize(ls.responseSerialize({ scopes: ["a", "b"] })), { scopes: ["a", "b"] });
});
