// The docker-daemon: source's private copy of one image export: the tar stream is written to a temp file
// as it is scanned, then indexed so any entry can be streamed back by offset, in any order, any number
// of times. The file carries the pid in its name, is registered for removal on SIGINT/SIGTERM/exit, and
// is removed by remove().
import { rmSync } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { finished } from 'node:stream/promises';
import { DsvError, pidTempName, registerCleanup } from '@dsv/core';
import type { TarIndex, TarEntry } from '@dsv/source-archive';

function ioError(what: string, e: unknown): DsvError {
  if (e instanceof DsvError) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  return new DsvError('IoError', `${what}: ${code ?? (e as Error)?.message ?? String(e)}`, code ? { code } : {}, { cause: e });
}

export class ExportSpool {
  readonly path: string;
  private fh?: FileHandle;
  private unregister?: () => void;
  private index?: TarIndex;
  private written?: Promise<void>;
  private ws?: NodeJS.WritableStream & { destroy(): void };
  private readonly readers = new Set<Readable>();

  private constructor(path: string) {
    this.path = path;
  }

  /** Creates the spool file (mode 0600, never an existing file) in `dir`. */
  static async create(dir: string): Promise<ExportSpool> {
    const spool = new ExportSpool(pidTempName(join(dir, 'docker-daemon-export'), '.tmp'));
    const path = spool.path;
    spool.unregister = registerCleanup(() => rmSync(path, { force: true }));
    try {
      spool.fh = await open(path, 'wx', 0o600);
    } catch (e) {
      spool.unregister();
      spool.unregister = undefined;
      throw ioError(`cannot create the image export spool in ${dir}`, e);
    }
    return spool;
  }

  /**
   * A pass-through that writes every chunk to the spool before handing it on (so the file holds exactly
   * the bytes the reader downstream saw, and the writer's pace bounds memory). Call once.
   */
  tee(): Transform {
    if (!this.fh || this.written) throw new DsvError('Usage', 'export spool: tee() is called once, on a fresh spool');
    const ws = this.fh.createWriteStream();
    this.fh = undefined; // the stream owns (and closes) the handle now
    this.ws = ws;
    const what = `writing the image export spool ${this.path}`;
    let settle!: { resolve: () => void; reject: (e: unknown) => void };
    this.written = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    this.written.catch(() => undefined);
    const tee = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        if (ws.write(chunk)) cb(null, chunk);
        else ws.once('drain', () => cb(null, chunk));
      },
      flush(cb) {
        ws.end();
        finished(ws).then(
          () => {
            settle.resolve();
            cb();
          },
          (e) => {
            const err = ioError(what, e);
            settle.reject(err);
            cb(err);
          },
        );
      },
    });
    ws.on('error', (e) => {
      const err = ioError(what, e);
      settle.reject(err);
      tee.destroy(err);
    });
    tee.on('close', () => {
      if (!ws.writableFinished) {
        settle.reject(new DsvError('RemoteError', 'the image export ended early'));
        ws.destroy();
      }
    });
    return tee;
  }

  /** Waits for the whole stream to be on disk, then indexes its entries (headers only are read again). */
  async seal(): Promise<TarIndex> {
    if (!this.written) throw new DsvError('Usage', 'export spool: seal() before tee()');
    await this.written;
    const { TarIndex } = await import('@dsv/source-archive');
    this.index = await TarIndex.open(this.path);
    return this.index;
  }

  /** An entry's bytes, read from the spool (several may be open at once). */
  openEntry(entry: TarEntry): Readable {
    if (!this.index) throw new DsvError('Usage', 'export spool: openEntry() before seal()');
    const r = this.index.openEntry(entry);
    this.readers.add(r);
    r.once('close', () => this.readers.delete(r));
    return r;
  }

  /** Closes readers still open and removes the file (idempotent). */
  async remove(): Promise<void> {
    for (const r of this.readers) r.destroy();
    this.readers.clear();
    this.ws?.destroy();
    this.ws = undefined;
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
    this.index = undefined;
    await rm(this.path, { force: true }).catch(() => undefined);
    this.unregister?.();
    this.unregister = undefined;
  }
}
