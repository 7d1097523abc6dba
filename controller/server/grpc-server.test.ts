// Proves the status details the controller sends stay small and encodable: a message over grpcStatusDetailsCharsMax
// is cut (saying how long it was), and a lone UTF-16 surrogate, which makes grpc-js's encodeURI throw and the call
// go unanswered, is replaced; short messages pass unchanged.
import t from "tap";
import { grpcStatusDetailsCharsMax } from "../../common/index.js";
import { statusDetails } from "./grpc-server.js";

void t.test("status details: short kept, long cut, lone surrogates replaced", async (t) => {
  t.equal(statusDetails("stream shop/orders does not exist"), "stream shop/orders does not exist");
  const long = statusDetails("x".repeat(200_000));
  t.ok(long.length < grpcStatusDetailsCharsMax + 60, `cut to ${long.length} characters`);
  t.match(long, /… \(message of 200000 characters cut\)$/);
  t.throws(() => encodeURI("a\ud800b"), "a lone surrogate is what encodeURI refuses");
  const fixed = statusDetails("a\ud800b\udc00c\u{1F600}");
  t.equal(fixed, "a\ufffdb\ufffdc\u{1F600}", "lone halves replaced, a pair kept");
  t.doesNotThrow(() => encodeURI(fixed));
  const cutInPair = statusDetails("x".repeat(grpcStatusDetailsCharsMax - 1) + "\u{1F600}");
  t.doesNotThrow(() => encodeURI(cutInPair), "a cut through a pair still encodes");
});
