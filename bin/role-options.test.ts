// Proves the controller's transaction options: declared once and taken by both `sluice controller`
// and `sluice standalone`, with the defaults the issue asks for (records kept 25 h, leases up to
// 1 h), every value outside its range refused INVALID_CONFIG naming the flag, and the parsed values
// handed to ControllerOptions under the names the controller reads.
import t from "tap";
import { parseConfig } from "../common/index.js";
import { txnOptions, txnOptionValues } from "./role-options.js";
import { controllerOptions } from "./roles.js";
import { standaloneOptions } from "./standalone.js";

const hourMs = 60 * 60_000;
const noEnv = {};

void t.test("both roles take the same two options, with the documented defaults", async (t) => {
  t.equal(controllerOptions["txn-record-kept-ms"], txnOptions["txn-record-kept-ms"]);
  t.equal(controllerOptions["txn-lease-max-ms"], txnOptions["txn-lease-max-ms"]);
  t.equal(standaloneOptions["txn-record-kept-ms"], txnOptions["txn-record-kept-ms"]);
  t.equal(standaloneOptions["txn-lease-max-ms"], txnOptions["txn-lease-max-ms"]);
  for (const specs of [controllerOptions, standaloneOptions]) {
    const { config } = parseConfig(specs, [], noEnv);
    t.same(txnOptionValues(config), { txnRecordKeptMs: 25 * hourMs, txnLeaseMsMax: hourMs });
  }
  const { config } = parseConfig(standaloneOptions, ["--txn-record-kept-ms", "60000", "--txn-lease-max-ms", String(24 * hourMs)], noEnv);
  t.same(txnOptionValues(config), { txnRecordKeptMs: 60_000, txnLeaseMsMax: 24 * hourMs }, "the lowest keeping and the highest lease are accepted");
  const top = parseConfig(controllerOptions, [`--txn-record-kept-ms=${30 * 24 * hourMs}`, "--txn-lease-max-ms=1000"], noEnv).config;
  t.same(txnOptionValues(top), { txnRecordKeptMs: 30 * 24 * hourMs, txnLeaseMsMax: 1_000 }, "the highest keeping and the lowest lease are accepted");
});

void t.test("values outside the ranges are refused naming the flag", async (t) => {
  const refused: [string, string][] = [
    ["--txn-record-kept-ms", "59999"],
    ["--txn-record-kept-ms", String(30 * 24 * hourMs + 1)],
    ["--txn-lease-max-ms", "999"],
    ["--txn-lease-max-ms", String(24 * hourMs + 1)],
    ["--txn-lease-max-ms", "1.5"],
  ];
  for (const [flag, value] of refused) {
    for (const specs of [controllerOptions, standaloneOptions]) {
      t.throws(() => parseConfig(specs, [flag, value], noEnv), { code: "INVALID_CONFIG", message: new RegExp(flag) }, `${flag} ${value}`);
    }
  }
});
