/**
 * The controller's transaction settings (--txn-record-kept-ms, --txn-lease-max-ms), validated once
 * when the controller starts and handed to every piece of transaction code that needs them, in
 * place of fixed constants.
 */
import {
  InvalidConfigError,
  txnLeaseMsCap,
  txnLeaseMsMaxDefault,
  txnLeaseMsMin,
  txnRecordKeptMsDefault,
  txnRecordKeptMsMax,
  txnRecordKeptMsMin,
} from "../../common/index.js";

export interface TxnSettings {
  /** How long the record of a COMMITTED or ABORTED transaction is kept before expiry removes it. */
  readonly recordKeptMs: number;
  /** The longest lease CreateTransaction and PingTransaction accept. */
  readonly leaseMsMax: number;
}

export const txnSettingsDefault: TxnSettings = { recordKeptMs: txnRecordKeptMsDefault, leaseMsMax: txnLeaseMsMaxDefault };

/**
 * The settings with defaults filled in; raises INVALID_CONFIG naming the option and its range when
 * a value is not an integer within it (record keeping [1 min, 30 days], longest lease [1 s, 24 h]).
 */
export function txnSettings(given: { recordKeptMs?: number | undefined; leaseMsMax?: number | undefined } = {}): TxnSettings {
  const recordKeptMs = given.recordKeptMs ?? txnSettingsDefault.recordKeptMs;
  const leaseMsMax = given.leaseMsMax ?? txnSettingsDefault.leaseMsMax;
  check("txn-record-kept-ms", recordKeptMs, txnRecordKeptMsMin, txnRecordKeptMsMax);
  check("txn-lease-max-ms", leaseMsMax, txnLeaseMsMin, txnLeaseMsCap);
  return { recordKeptMs, leaseMsMax };
}

function check(option: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidConfigError(`--${option} must be an integer in [${min}, ${max}] ms, got ${value}`);
  }
}

/** A duration for a message: "25 h", "90 min", "45 s" (whole units where they divide evenly). */
export function describeMs(ms: number): string {
  const units: [number, string][] = [
    [24 * 60 * 60_000, "d"],
    [60 * 60_000, "h"],
    [60_000, "min"],
    [1_000, "s"],
  ];
  for (const [size, name] of units) if (ms >= size && ms % size === 0) return `${ms / size} ${name}`;
  return `${ms} ms`;
}
