/**
 * A reader of a reader group in a process of its own, for tests that kill or pause a reader
 * (test/reader-liveness.test.ts). Usage: group-reader-child.ts CONTROLLER_URI SCOPE/GROUP READER_ID COUNT
 *
 * Prints `ready` once its first readNext returned (it has joined), then `event KEY SEQ SEGMENT` for
 * each event it returns. After COUNT events it prints `idle` and stops calling readNext, without
 * closing (the group object stays open, as in an application busy elsewhere). A readNext error
 * prints `error CODE MESSAGE` and exits 3. It never exits on its own otherwise: the test kills it.
 */
import { Sluice } from "../../client/index.js";
import { toSluiceError } from "../../common/index.js";
import { parseTestEvent } from "./events.js";

const [uri, groupName, readerId, countText] = process.argv.slice(2);
if (uri === undefined || groupName === undefined || readerId === undefined || countText === undefined) {
  process.stderr.write("usage: group-reader-child.ts CONTROLLER_URI SCOPE/GROUP READER_ID COUNT\n");
  process.exit(2);
}
const count = Number(countText);

async function main(): Promise<void> {
  const sluice = await Sluice.connect(uri!);
  const group = await sluice.readerGroup(groupName!);
  const reader = group.reader(readerId!);
  let read = 0;
  let first = true;
  while (read < count) {
    const item = await reader.readNext({ timeoutMs: 200 });
    if (first) {
      first = false;
      process.stdout.write("ready\n");
    }
    if (item.type !== "event") continue;
    const { key, seq } = parseTestEvent(item.data);
    process.stdout.write(`event ${key} ${seq} ${item.segment}\n`);
    read++;
  }
  process.stdout.write("idle\n");
  // Stays alive with the group object open (its lease renewed in the background) until killed.
  setInterval(() => undefined, 60_000);
}

main().catch((err: unknown) => {
  const e = toSluiceError(err);
  process.stdout.write(`error ${e.code} ${e.message}\n`, () => process.exit(3));
});
