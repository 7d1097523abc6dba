// Proves names are checked against their length before anything else and refused with a bounded message: scope,
// stream, qualified stream and segment names of 128 KiB each raise INVALID_NAME quoting a cut prefix and the length,
// in well under a millisecond each; valid names still pass.
import t from "tap";
import { parseSegmentName, parseStreamName, validateName } from "./names.js";

const huge = "a".repeat(128 * 1024);

void t.test("huge names are refused with a short message naming their length", async (t) => {
  const cases: [string, () => unknown][] = [
    ["scope", () => validateName("scope", huge)],
    ["stream", () => validateName("stream", huge)],
    ["reader group", () => validateName("reader group", huge)],
    ["qualified stream", () => parseStreamName(`${huge}/x`)],
    ["qualified stream, huge stream part", () => parseStreamName(`x/${huge}`)],
    ["segment", () => parseSegmentName(`x/${huge}/0.#epoch.0`)],
  ];
  for (const [what, fn] of cases) {
    const started = performance.now();
    let message = "";
    try {
      fn();
    } catch (err) {
      t.equal((err as { code?: string }).code, "INVALID_NAME", what);
      message = (err as Error).message;
    }
    t.ok(performance.now() - started < 50, `${what}: refused at once`);
    t.ok(message.length > 0 && message.length < 400, `${what}: message of ${message.length} characters`);
    t.match(message, /…" \(\d+ characters\)/, `${what}: the name is cut and its length given`);
  }
});

void t.test("valid names pass; a name one byte too long does not", async (t) => {
  t.equal(validateName("scope", "a".repeat(255)), "a".repeat(255));
  t.throws(() => validateName("scope", "a".repeat(256)), { code: "INVALID_NAME" });
  t.throws(() => validateName("scope", "é".repeat(128)), { code: "INVALID_NAME" }, "128 characters, 256 bytes");
  t.same(parseStreamName("shop/orders"), { scope: "shop", stream: "orders" });
  t.same(parseSegmentName("shop/orders/3.#epoch.1"), { scope: "shop", stream: "orders", number: 3, epoch: 1 });
  t.throws(() => validateName("stream", "bad name"), { code: "INVALID_NAME", message: /invalid stream name "bad name": use 1-255/ });
});
