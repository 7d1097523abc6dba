/**
 * The controller's calls to segment stores over the data plane (creating segments of a new stream).
 */
import { SegmentExistsError } from "../../common/index.js";
import { ConnectionPool, type Endpoint } from "../../proto/index.js";

export type { Endpoint };

const requestTimeoutMs = 30_000;

export class SegmentHelper {
  private readonly pool = new ConnectionPool();

  /** Creates `segment` on the store at `endpoint`; an existing segment counts as created. */
  async createSegment(endpoint: Endpoint, segment: string): Promise<void> {
    const conn = await this.pool.get(endpoint);
    try {
      await conn.request({ type: "CreateSegment", requestId: conn.nextRequestId(), segment }, "SegmentCreated", requestTimeoutMs);
    } catch (err) {
      if (err instanceof SegmentExistsError) return;
      throw err;
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
