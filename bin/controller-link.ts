/**
 * The segment store's link to the controllers over gRPC: heartbeats and load reports go to the
 * controller that last answered, and fail over to the next one in the list when it is unreachable
 * (UNAVAILABLE) or too slow (TIMEOUT). Any controller can take them, since all membership state
 * lives in the metadata store. An error the controller itself raised (INVALID_ARGUMENT,
 * OVERLOADED, ...) is not failed over: another controller would answer the same.
 */
import { InvalidConfigError, logger, SluiceError } from "../common/index.js";
import { ControllerClient } from "../client/controller/controller-client.js";
import type { ControllerMethod, ControllerMethods, HeartbeatRequest, HeartbeatResponse, ReportLoadRequest } from "../proto/index.js";
import type { ControllerLink } from "../segmentstore/index.js";

const log = logger("controller-link");

/** Deadline of one call to one controller: well inside a store lease, so a hung controller is left in time. */
export const controllerLinkCallTimeoutMs = 3_000;
/** Controllers one link may name (a cluster runs a handful). */
export const controllerLinkTargetsMax = 16;

/** Parses `tcp://HOST:PORT[,tcp://HOST:PORT...]` into gRPC targets (`HOST:PORT`). Raises INVALID_CONFIG naming `flag`. */
export function parseControllerTargets(uris: string, flag = "--controller"): string[] {
  const parts = uris.split(",");
  if (parts.length > controllerLinkTargetsMax) {
    throw new InvalidConfigError(`${flag}: at most ${controllerLinkTargetsMax} controllers, got ${parts.length}`);
  }
  return parts.map((one) => {
    const m = /^tcp:\/\/([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})\/?$/.exec(one.trim());
    if (m === null || Number(m[2]) < 1 || Number(m[2]) > 65535) {
      throw new InvalidConfigError(`${flag}: ${JSON.stringify(one)} is not valid: write tcp://HOST:PORT, e.g. tcp://127.0.0.1:9090 (several: comma-separated)`);
    }
    return `${m[1]}:${m[2]}`;
  });
}

export class GrpcControllerLink implements ControllerLink {
  private readonly clients: ControllerClient[];
  /** The controller that answered last: calls start there. */
  private current = 0;

  /** `uris`: one or more `tcp://HOST:PORT`, comma-separated. Raises INVALID_CONFIG. */
  constructor(
    uris: string,
    private readonly callTimeoutMs = controllerLinkCallTimeoutMs,
  ) {
    this.clients = parseControllerTargets(uris).map((target) => new ControllerClient(target));
  }

  async heartbeat(req: HeartbeatRequest): Promise<HeartbeatResponse> {
    return this.call("Heartbeat", req);
  }

  async reportLoad(req: ReportLoadRequest): Promise<void> {
    await this.call("ReportLoad", req);
  }

  /** Tries each controller once, starting with the last that answered. */
  private async call<M extends ControllerMethod>(method: M, request: ControllerMethods[M][0]): Promise<ControllerMethods[M][1]> {
    let lastError: unknown;
    for (let attempt = 0; attempt < this.clients.length; attempt++) {
      const index = (this.current + attempt) % this.clients.length;
      const client = this.clients[index]!;
      try {
        const response = await client.call(method, request, this.callTimeoutMs);
        if (index !== this.current) log.info("now talking to another controller", { target: client.target });
        this.current = index;
        return response;
      } catch (err) {
        if (!(err instanceof SluiceError) || (err.code !== "UNAVAILABLE" && err.code !== "TIMEOUT")) throw err;
        lastError = err;
        log.debug("controller unreachable; trying the next", { target: client.target, method, error: err.message });
      }
    }
    throw lastError;
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}
