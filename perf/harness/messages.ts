/** The messages a worker and the coordinator exchange over the fork IPC channel (JSON). */
import type { EncodedHistogram } from "./histograms.js";
import type { Workload } from "./workload.js";

export type DriverSpec = { kind: "sluice"; controllerUri: string } | { kind: "redis"; host: string; port: number };

export interface ProducerAssignment {
  topic: string;
  /** Messages per second for this producer; 0: as fast as acks allow (bounded in flight). */
  rate: number;
}

export interface ConsumerAssignment {
  topic: string;
  subscription: string;
  index: number;
  count: number;
  fromStart: boolean;
}

export type ToWorker =
  | { type: "start"; driver: DriverSpec; workload: Workload; workloadPath: string; producers: ProducerAssignment[]; consumers: ConsumerAssignment[] }
  | { type: "setRate"; ratePerProducer: number }
  | { type: "stop" };

export interface WorkerStats {
  sent: number;
  acked: number;
  errors: number;
  received: number;
  receivedBytes: number;
  /** How far the producers are behind their intended send times at the report (the largest). */
  scheduleLagMs: number;
  publish: EncodedHistogram;
  endToEnd: EncodedHistogram;
}

export type FromWorker =
  | { type: "ready" }
  | ({ type: "stats" } & WorkerStats)
  | { type: "stopped" }
  | { type: "failed"; message: string };
