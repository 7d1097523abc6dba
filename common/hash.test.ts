// Proves the murmur3 routing hash matches the reference MurmurHash3_x86_32 vectors and maps keys into [0, 1).
import t from "tap";
import { containerOf, keyPosition, murmur3x86_32 } from "./hash.js";

const enc = (s: string) => new TextEncoder().encode(s);

void t.test("reference vectors", async (t) => {
  t.equal(murmur3x86_32(enc(""), 0), 0);
  t.equal(murmur3x86_32(enc(""), 1), 0x514e28b7);
  t.equal(murmur3x86_32(enc(""), 0xffffffff), 0x81f16f39);
  t.equal(murmur3x86_32(new Uint8Array([0xff, 0xff, 0xff, 0xff]), 0), 0x76293b50);
  t.equal(murmur3x86_32(new Uint8Array([0x21, 0x43, 0x65, 0x87]), 0), 0xf55b516b);
  t.equal(murmur3x86_32(new Uint8Array([0x21, 0x43, 0x65]), 0), 0x7e4a8634);
  t.equal(murmur3x86_32(new Uint8Array([0x21, 0x43]), 0), 0xa0f7b07a);
  t.equal(murmur3x86_32(new Uint8Array([0x21]), 0), 0x72661cf4);
  t.equal(murmur3x86_32(enc("Hello, world!"), 1234), 0xfaf6cdb3);
  t.equal(murmur3x86_32(enc("The quick brown fox jumps over the lazy dog"), 0x9747b28c), 0x2fa826cd);
});

void t.test("key positions spread over [0, 1)", async (t) => {
  const buckets = new Array<number>(4).fill(0);
  let outside = 0;
  for (let i = 0; i < 10_000; i++) {
    const p = keyPosition(`key-${i}`);
    if (p < 0 || p >= 1) outside++;
    else buckets[Math.floor(p * 4)]!++;
  }
  t.equal(outside, 0, "every position in [0, 1)");
  for (const b of buckets) t.ok(b > 2000 && b < 3000, `bucket holds ${b}`);
  t.equal(keyPosition("customer-17"), keyPosition("customer-17"), "stable");
  const c = containerOf("shop/orders/0.#epoch.0", 4);
  t.ok(c >= 0 && c < 4);
});

void t.test("a transaction segment and a rolling duplicate live with their parent", async (t) => {
  for (let n = 0; n < 50; n++) {
    const parent = `shop/orders/${n}.#epoch.3`;
    const c = containerOf(parent, 16);
    t.equal(containerOf(`${parent}#txn.${"ab".repeat(16)}`, 16), c, "txn segment");
    t.equal(containerOf(`shop/orders/${n}.#epoch.9`, 16), c, "duplicate of a later epoch");
    t.equal(c, containerOf(`shop/orders/${n}.#epoch.0`, 16), "epoch 0 hashes as before");
  }
  const spread = new Set(Array.from({ length: 64 }, (_, n) => containerOf(`shop/orders/${n}.#epoch.1`, 4)));
  t.equal(spread.size, 4, "different numbers spread over containers");
});
