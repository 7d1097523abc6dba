/**
 * Writes frames to a socket so that all frames written in one tick leave together in one writev:
 * the socket is corked at the first frame of a tick and uncorked on the next. A client's pipelined
 * requests, or the replies a journal batch completes at once, then cost one syscall, not one each.
 */
import type { Socket } from "node:net";
import { encodeFrame } from "./codec.js";
import type { Frame } from "./frames.js";

export class FrameWriter {
  /** True while frames of this tick are being gathered. */
  private corked = false;

  constructor(private readonly socket: Socket) {}

  /** Encodes and writes `frame`; false when the socket's buffer is above its high-water mark. */
  write(frame: Frame): boolean {
    const pieces = encodeFrame(frame);
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    let accepted = true;
    for (const piece of pieces) accepted = this.socket.write(piece) && accepted;
    return accepted;
  }
}
