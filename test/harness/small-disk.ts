import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A small file system of its own (tmpfs), to fill up: a real full disk, with ENOSPC from the kernel. */
export interface SmallDisk {
  readonly dir: string;
  /** Writes a filler file until the file system is full. */
  fill(): void;
  /** Deletes the filler: the space is there again. */
  free(): void;
  unmount(): void;
}

/**
 * Mounts a tmpfs of `sizeMiB` on a temp dir. Needs root (CAP_SYS_ADMIN); returns the reason instead where
 * mounting is not allowed, for the test to say why it is skipped.
 */
function mountSmallDisk(sizeMiB: number): SmallDisk | string {
  if (process.getuid?.() !== 0) return 'mounting a small file system needs root';
  const dir = mkdtempSync(join(tmpdir(), 'airlock-small-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return `cannot mount a tmpfs here: ${(err as Error).message.split('\n')[0]}`;
  }
  const filler = join(dir, 'filler');
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a');
      const chunk = Buffer.alloc(64 * 1024, 1);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        // The last pages: smaller writes until nothing fits.
        for (let size = 32 * 1024; size >= 1; size >>= 1) {
          try {
            for (;;) writeSync(fd, chunk, 0, size);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
          }
        }
      } finally {
        closeSync(fd);
      }
    },
    free() {
      unlinkSync(filler);
    },
    unmount() {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A small disk for a test file: the disk, or why the file's tests are skipped (printed as a warning too). */
export function smallDiskForTests(sizeMiB: number, what: string): { disk: SmallDisk; skip?: undefined } | { disk?: undefined; skip: string } {
  const disk = mountSmallDisk(sizeMiB);
  if (typeof disk !== 'string') return { disk };
  console.warn(`${what} skipped: ${disk}`);
  return { skip: disk };
}
