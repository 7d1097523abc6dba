/**
 * Message payloads for producers: the workload's payload file, or a pool of randomized payloads of
 * the message size (OMB's useRandomizedPayloads, randomBytesRatio, randomizedPayloadPoolSize).
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { resolve, dirname } from "node:path";
import { InvalidConfigError } from "../../common/index.js";
import { timestampBytes } from "./driver.js";
import type { Workload } from "./workload.js";

const poolSizeDefault = 100;

/** The payload pool of a workload, every one `messageSize` bytes. `workloadPath` resolves a relative payloadFile. */
export async function payloadPool(workload: Workload, workloadPath: string): Promise<Buffer[]> {
  if (workload.messageSize < timestampBytes) {
    throw new InvalidConfigError(`messageSize ${workload.messageSize} is below ${timestampBytes}: each message carries its send time`);
  }
  if (workload.payloadFile !== undefined && workload.useRandomizedPayloads !== true) {
    const bytes = await readFile(resolve(dirname(workloadPath), workload.payloadFile));
    if (bytes.length !== workload.messageSize) {
      throw new InvalidConfigError(`payloadFile ${workload.payloadFile} holds ${bytes.length} bytes, messageSize says ${workload.messageSize}`);
    }
    return [bytes];
  }
  const ratio = workload.randomBytesRatio ?? 1;
  const count = workload.randomizedPayloadPoolSize ?? poolSizeDefault;
  return Array.from({ length: count }, () => {
    const b = Buffer.alloc(workload.messageSize);
    randomBytes(Math.round(workload.messageSize * ratio)).copy(b);
    return b;
  });
}
