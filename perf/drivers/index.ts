/** Drivers by name, made from the spec the coordinator hands to its workers. */
import type { Driver } from "../harness/driver.js";
import type { DriverSpec } from "../harness/messages.js";
import { RedisDriver } from "./redis-driver.js";
import { SluiceDriver } from "./sluice-driver.js";

export function createDriver(spec: DriverSpec): Promise<Driver> {
  switch (spec.kind) {
    case "sluice":
      return SluiceDriver.connect(spec.controllerUri);
    case "redis":
      return Promise.resolve(new RedisDriver({ host: spec.host, port: spec.port }));
  }
}
