/**
 * Child process of test/metadata-crash.test.ts: opens the embedded metadata store in argv[2] and does
 * puts (and a compare-and-set chain) one after another forever, printing each key once its put is
 * acknowledged. The parent SIGKILLs it at a moment of its choosing.
 */
import { FileMetadataStore } from "../../controller/index.js";

const dir = process.argv[2]!;
const snapshotEveryRecords = Number(process.argv[3] ?? "10000");
const store = await FileMetadataStore.open(dir, { snapshotEveryRecords });
let counterVersion = (await store.get("counter"))?.version ?? 0;
for (let i = 0; ; i++) {
  const key = `acked/${String(i).padStart(8, "0")}`;
  await store.put(key, Buffer.from(`value-${i}-${"x".repeat(i % 200)}`));
  counterVersion = await store.compareAndSet("counter", counterVersion, Buffer.from(String(i)));
  process.stdout.write(`${key} ${i}\n`);
}
