/**
 * An HTTP proxy on 127.0.0.1 in front of an S3 endpoint, for Tier-2 fault tests. Its mode is set at
 * run time: `pass` forwards; `fail503` answers 503 SlowDown (an S3 XML error) without forwarding;
 * `{ delayMs }` forwards after a pause (unless the client gave up meanwhile); `dropResponse`
 * forwards, waits for the upstream's whole answer, then destroys the client's socket without
 * answering (a PUT whose response is lost). A mode may be limited to the next `times` requests, and
 * to one method. Counters say what was seen and done, per method too.
 *
 * Bodies are streamed both ways with backpressure (pipe), never buffered. Headers go upstream as the
 * client sent them, Host included: SigV4 signs the Host the client used (the proxy's), and radosgw
 * checks the signature against the Host it receives, so rewriting Host to the upstream's would break
 * every request. `Expect` is dropped: SigV4 never signs it, and the proxy has already said 100-continue.
 */
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import { assert, unreachable } from "../../common/index.js";

/** `delayMs`: forward after this pause. Strings are the other modes by name. */
export type FaultMode = "pass" | "fail503" | "dropResponse" | { delayMs: number };

/** Limits a mode to the next `times` requests (then `pass`), and to requests of one method whose URL holds a string (others pass). */
export interface FaultLimit {
  times?: number;
  method?: string;
  /** e.g. "uploadId=" for multipart completions (POST), not their creation ("?uploads"). */
  urlIncludes?: string;
}

export interface FaultCounts {
  /** Requests received, in any mode, and of each method. */
  requests: number;
  get: number;
  put: number;
  head: number;
  post: number;
  delete: number;
  /** Requests sent upstream (pass, delay, dropResponse). */
  forwarded: number;
  /** Forwarded requests whose upstream answer arrived in full (dropped ones included). */
  completed: number;
  /** Requests answered 503 by the proxy. */
  failed: number;
  /** Requests forwarded whose response was then withheld. */
  dropped: number;
  /** Requests held back by a delay. */
  delayed: number;
}

export interface S3FaultProxy {
  /** `http://127.0.0.1:PORT`, to use as the S3 endpoint. */
  readonly endpoint: string;
  /** Applies to requests that arrive from now on. */
  setMode(mode: FaultMode, limit?: FaultLimit): void;
  readonly counts: FaultCounts;
  /** Stops accepting, destroys open connections, resolves once closed. */
  close(): Promise<void>;
}

/** Connections kept open to the upstream: bounded like everything else. */
const upstreamSocketsMax = 64;
const slowDownBody =
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>` +
  `<Message>Please reduce your request rate (s3-fault-proxy).</Message><RequestId>s3-fault-proxy</RequestId></Error>`;

export async function startS3FaultProxy(upstream: string): Promise<S3FaultProxy> {
  const target = new URL(upstream);
  assert(target.protocol === "http:", `the fault proxy forwards to http only, not ${upstream}`);
  const agent = new Agent({ keepAlive: true, maxSockets: upstreamSocketsMax });
  const counts: FaultCounts = {
    requests: 0, get: 0, put: 0, head: 0, post: 0, delete: 0, forwarded: 0, completed: 0, failed: 0, dropped: 0, delayed: 0,
  };
  let mode: FaultMode = "pass";
  let left = Infinity;
  let only: FaultLimit = {};

  /** The mode for one arriving request; a limited mode falls back to pass once used up. */
  const modeFor = (method: string, url: string): FaultMode => {
    if (mode === "pass") return "pass";
    if ((only.method !== undefined && only.method !== method) || (only.urlIncludes !== undefined && !url.includes(only.urlIncludes))) return "pass";
    const m = mode;
    left--;
    if (left <= 0) mode = "pass";
    return m;
  };

  const forward = (req: IncomingMessage, res: ServerResponse, drop: boolean) => {
    counts.forwarded++;
    const headers = { ...req.headers };
    delete headers["expect"];
    const up = request({
      host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent,
    }, (upRes) => {
      upRes.once("end", () => counts.completed++);
      if (drop) {
        // Let the upstream finish its answer (the write has happened), then vanish without a word.
        upRes.resume();
        upRes.once("end", () => {
          counts.dropped++;
          req.socket.destroy();
        });
        return;
      }
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
      upRes.once("error", () => res.destroy());
    });
    up.once("error", (err) => {
      if (res.headersSent) res.destroy();
      else res.writeHead(502, { "content-type": "text/plain" }).end(`s3-fault-proxy: upstream failed: ${err.message}`);
    });
    // A client that gives up mid-request must not leave a half-sent request upstream.
    res.once("close", () => {
      if (!res.writableFinished && !drop) up.destroy();
    });
    req.pipe(up);
  };

  const server = createServer((req, res) => {
    counts.requests++;
    const method = req.method ?? "";
    const perMethod = method.toLowerCase();
    if (perMethod === "get" || perMethod === "put" || perMethod === "head" || perMethod === "post" || perMethod === "delete") {
      counts[perMethod]++;
    }
    const m = modeFor(method, req.url ?? "");
    if (typeof m === "object") {
      counts.delayed++;
      const timer = setTimeout(() => {
        // A client that gave up during the pause is not forwarded (its request may be incomplete).
        if (!req.socket.destroyed) forward(req, res, false);
      }, m.delayMs);
      res.once("close", () => clearTimeout(timer));
      return;
    }
    switch (m) {
      case "pass":
        forward(req, res, false);
        return;
      case "dropResponse":
        forward(req, res, true);
        return;
      case "fail503":
        counts.failed++;
        req.resume();
        req.once("end", () => {
          res.writeHead(503, { "content-type": "application/xml", "content-length": Buffer.byteLength(slowDownBody) });
          res.end(slowDownBody);
        });
        return;
      default:
        unreachable(m, "fault mode");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  assert(address !== null && typeof address === "object", "a listening proxy has a TCP address");
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    setMode(next, limit = {}) {
      mode = next;
      left = limit.times ?? Infinity;
      only = limit;
    },
    counts,
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      });
    },
  };
}
