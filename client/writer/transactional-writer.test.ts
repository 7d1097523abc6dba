// Proves the client's lease check: TransactionalWriter refuses only leases outside the absolute
// bounds [txnLeaseMsMin, txnLeaseMsCap] itself (without asking the controller), sends any other
// lease (above the old 10-minute client cap too) to the controller, and passes the controller's
// INVALID_ARGUMENT naming its configured range through unchanged. A fake controller records calls.
import t from "tap";
import { InvalidArgumentError, txnLeaseMsCap, txnLeaseMsMin } from "../../common/index.js";
import type { ControllerMethod, ControllerMethods } from "../../proto/index.js";
import { TransactionalWriter, type TransactionServices } from "./transactional-writer.js";

function fakeController(leaseMsMax: number) {
  const created: number[] = [];
  const services: TransactionServices = {
    call<M extends ControllerMethod>(method: M, request: ControllerMethods[M][0]): Promise<ControllerMethods[M][1]> {
      if (method === "CreateTransaction") {
        const leaseMs = (request as ControllerMethods["CreateTransaction"][0]).leaseMs;
        if (leaseMs > leaseMsMax) return Promise.reject(new InvalidArgumentError(`leaseMs must be an integer in [1000, ${leaseMsMax}], got ${leaseMs}`));
        created.push(leaseMs);
        const answer: ControllerMethods["CreateTransaction"][1] = { txnId: "0".repeat(32), epoch: 0, segments: [], leaseExpiresAtMs: leaseMs };
        return Promise.resolve(answer as ControllerMethods[M][1]);
      }
      const status: ControllerMethods["AbortTransaction"][1] = { state: "ABORTED", leaseExpiresAtMs: 0, alreadyCommitted: false };
      return Promise.resolve(status as ControllerMethods[M][1]);
    },
    connect: () => Promise.reject(new Error("no segment connection in this test")),
  };
  return { services, created };
}

void t.test("leases above the old client cap reach the controller; the absolute bounds are checked here", async (t) => {
  const { services, created } = fakeController(24 * 60 * 60_000);
  const writer = new TransactionalWriter("sc/s", services);
  const twoHours = 2 * 60 * 60_000;
  const txn = await writer.beginTransaction({ leaseMs: twoHours });
  await txn.abort();
  const longest = await writer.beginTransaction({ leaseMs: txnLeaseMsCap });
  await longest.abort();
  t.same(created, [twoHours, txnLeaseMsCap], "both sent as asked");
  for (const bad of [txnLeaseMsMin - 1, txnLeaseMsCap + 1, 1500.5]) {
    await t.rejects(writer.beginTransaction({ leaseMs: bad }), { code: "INVALID_ARGUMENT", message: /leaseMs must be an integer in \[1000, 86400000\]/ }, String(bad));
  }
  t.equal(created.length, 2, "refused leases were not sent");
});

void t.test("the controller judges its own longest lease", async (t) => {
  const { services, created } = fakeController(60 * 60_000);
  const writer = new TransactionalWriter("sc/s", services);
  await t.rejects(writer.beginTransaction({ leaseMs: 60 * 60_000 + 1 }), { code: "INVALID_ARGUMENT", message: /\[1000, 3600000\]/ });
  t.same(created, []);
});
