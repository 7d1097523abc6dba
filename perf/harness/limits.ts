/**
 * Bounds of the benchmark harness, named and gathered here (as common/limits.ts is for Sluice
 * itself). They are sized for the machines the harness runs on (a few cores), not for the server:
 * a workload past them is more likely a typo than a plan, and the error says which bound it hit.
 */
import { KiB, MiB, assert } from "../../common/index.js";

/** A workload file is a few hundred bytes of YAML; anything much larger is the wrong file. */
export const workloadFileBytesMax = 64 * KiB;
export const workloadNameCharsMax = 200;
export const payloadFilePathCharsMax = 4096;

export const topicsMax = 64;
export const partitionsPerTopicMax = 1024;
/** All partitions of all topics, so 64 topics of 1024 partitions cannot be asked for at once. */
export const partitionsTotalMax = 4096;
export const producersPerTopicMax = 64;
export const producersTotalMax = 256;
export const subscriptionsPerTopicMax = 16;
export const consumersPerSubscriptionMax = 64;
export const consumersTotalMax = 256;

/** OMB's messages go up to 1 MiB; Sluice events may be larger, but the harness does not need them. */
export const messageBytesMax = 1 * MiB;
/** Randomized payloads are drawn from a pool built up front; it is bounded by count and by bytes. */
export const payloadPoolSizeMax = 10_000;
export const payloadPoolBytesMax = 256 * MiB;

/** Messages per second, summed over all producers; also the rate limiter's ceiling. */
export const producerRateMax = 10_000_000;
/** Backlog built before consumers start, in GB (10^9 bytes, as OMB counts it). */
export const consumerBacklogGBMax = 64;

export const testDurationMinutesMax = 24 * 60;
export const warmupDurationMinutesMax = 60;

/** Largest encoded histogram accepted over IPC; checked before decoding. */
export const encodedHistogramCharsMax = 4 * MiB;
/** Latencies are recorded in microseconds up to one minute; longer ones are recorded as one minute. */
export const latencyUsMax = 60_000_000;

assert(partitionsTotalMax >= partitionsPerTopicMax, "one topic may use its whole partition allowance");
assert(producersTotalMax >= producersPerTopicMax, "one topic may use its whole producer allowance");
assert(consumersTotalMax >= consumersPerSubscriptionMax, "one subscription may use its whole consumer allowance");
assert(payloadPoolBytesMax >= messageBytesMax, "a pool holds at least one largest message");

/**
 * Sends one producer keeps in flight (its pipelining depth), the same for every driver so that
 * systems are compared at equal depth.
 */
export const producerInflightSendsMax = 1024;
