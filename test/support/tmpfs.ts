/**
 * Small full-disk fixtures for tests: a fresh directory with a tmpfs mounted on it (we run as root,
 * here and in CI), and a filler file that takes every free byte of it.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Makes a fresh directory with a tmpfs of `sizeMiB` mounted on it. The returned `cleanup` runs
 * `before` (stop what uses the directory), then unmounts and removes it; register it as a teardown.
 */
export async function mountTmpfs(sizeMiB: number): Promise<{ dir: string; cleanup: (before?: () => Promise<void>) => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "sluice-tmpfs-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMiB}m`, "tmpfs", dir]);
  let done = false;
  return {
    dir,
    async cleanup(before) {
      if (done) return;
      done = true;
      // Unmounted whatever `before` does: a mount left behind would outlive the test run.
      try {
        await before?.();
      } finally {
        execFileSync("umount", ["-l", dir]);
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Writes `path` until the filesystem refuses more (ENOSPC): 1 MiB at a time, then 4 KiB. Resolves the bytes written. */
export async function fillDisk(path: string): Promise<number> {
  const file = await open(path, "w");
  let bytes = 0;
  try {
    for (const step of [1024 * 1024, 4096]) {
      const chunk = Buffer.alloc(step, 0x5a);
      for (;;) {
        try {
          const { bytesWritten } = await file.write(chunk, 0, step, bytes);
          bytes += bytesWritten;
          if (bytesWritten < step) break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
          break;
        }
      }
    }
  } finally {
    await file.close();
  }
  return bytes;
}
