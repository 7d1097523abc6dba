/**
 * How a log node keeps ledgers in its journal (journal.ts). One journal is shared by every ledger:
 *
 * - An entry is a record with tag = ledger id (a u32 >= 1) and seq = entry id; its payload is the
 *   writer's last-add-confirmed as an i64 (ledgerEntryHeaderBytes), then the entry data.
 * - A control record has tag 0 (never a ledger id), seq = its kind (fence, delete), and the
 *   ledger id as a u32 for payload.
 *
 * Also the argument checks every LogNodeApi call makes.
 */
import { InvalidArgumentError, ledgerEntryBytesMax, ledgerEntryHeaderBytes } from "../../../common/index.js";

/** The record tag of control records; ledger ids start at 1. */
export const controlTag = 0;
/** Control record kinds (the record's seq). Append only: they are on disk. */
export const fenceSeq = 1;
export const deleteSeq = 2;
const controlPayloadBytes = 4;
const u32Max = 0xffff_ffff;

/** A record read back at replay, as the log node means it. */
export type LedgerRecord =
  | { kind: "entry"; ledger: number; entryId: number; lac: number }
  | { kind: "fence"; ledger: number }
  | { kind: "delete"; ledger: number };

/** The payload of a fence or delete record. */
export function controlPayload(ledger: number): Buffer {
  const b = Buffer.allocUnsafe(controlPayloadBytes);
  b.writeUInt32BE(ledger, 0);
  return b;
}

/** The header stored before an entry's data: the writer's last-add-confirmed. */
export function entryHeader(lac: number): Buffer {
  const b = Buffer.allocUnsafe(ledgerEntryHeaderBytes);
  b.writeBigInt64BE(BigInt(lac), 0);
  return b;
}

/**
 * Reads what a replayed (crc-checked) record means, or answers why it makes no sense. A record
 * that passed its crc but makes no sense was written by other software, or by a newer version;
 * either way the node must not guess.
 */
export function decodeLedgerRecord(tag: number, seq: number, payload: Buffer): LedgerRecord | string {
  if (tag !== controlTag) {
    if (payload.length < ledgerEntryHeaderBytes) return `entry payload of ${payload.length} bytes has no last-add-confirmed header`;
    const lac = Number(payload.readBigInt64BE(0));
    if (!Number.isSafeInteger(lac) || lac < -1) return `entry last-add-confirmed ${lac} is out of range`;
    return { kind: "entry", ledger: tag, entryId: seq, lac };
  }
  if (payload.length !== controlPayloadBytes) return `control record payload of ${payload.length} bytes, not ${controlPayloadBytes}`;
  const ledger = payload.readUInt32BE(0);
  if (ledger === controlTag) return "control record names ledger 0";
  if (seq === fenceSeq) return { kind: "fence", ledger };
  if (seq === deleteSeq) return { kind: "delete", ledger };
  return `unknown control record kind ${seq}`;
}

export function checkLedgerId(ledger: number): void {
  if (!Number.isInteger(ledger) || ledger < 1 || ledger > u32Max) {
    throw new InvalidArgumentError(`ledger id ${ledger} is not an integer in [1, ${u32Max}]`);
  }
}

export function checkEntryId(entryId: number): void {
  if (!Number.isSafeInteger(entryId) || entryId < 0) throw new InvalidArgumentError(`entry id ${entryId} is not a safe integer >= 0`);
}

export function checkLac(lac: number): void {
  if (!Number.isSafeInteger(lac) || lac < -1) throw new InvalidArgumentError(`last-add-confirmed ${lac} is not a safe integer >= -1`);
}

export function checkMaxBytes(maxBytes: number): void {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new InvalidArgumentError(`maxBytes ${maxBytes} is not a positive integer`);
}

/** Answers the entry's data length, checked against ledgerEntryBytesMax. */
export function checkEntryData(data: readonly Buffer[]): number {
  let bytes = 0;
  for (const piece of data) bytes += piece.length;
  if (bytes > ledgerEntryBytesMax) throw new InvalidArgumentError(`entry of ${bytes} bytes is above the limit of ${ledgerEntryBytesMax}`);
  return bytes;
}
