/**
 * The storage-vs-daemon choice for local images: read Docker's store on disk (docker-storage:, file-by-file
 * integrity) when it is on this machine and readable, else go through the Engine API (docker-daemon:).
 * One function, used by every command that reads local images (`docker-verify repository`, `docker verify`).
 */
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SystemContext } from '@dsv/core/transport';
import { DEFAULT_DOCKER_HOST, daemonInfo, engineOptionsFrom } from './engine.js';

export interface LocalStore {
  /** `docker-storage` when the on-disk store can be read, else `docker-daemon`. */
  transport: 'docker-storage' | 'docker-daemon';
  /** The store's root, when known (give it to SystemContext.dockerRoot). */
  root?: string;
  /** Why, for --debug. */
  why: string;
}

/** Whether a store root can be read (its image/ directory lists). */
export function dockerStoreReadable(root: string): { readable: boolean; root: string; why: string } {
  try {
    accessSync(join(root, 'image'), constants.R_OK | constants.X_OK);
    readdirSync(join(root, 'image'));
    return { readable: true, root, why: `${root} is readable` };
  } catch (e) {
    return { readable: false, root, why: `${root}/image is not readable (${(e as NodeJS.ErrnoException).code ?? 'error'})` };
  }
}

/**
 * Where local images are read from: the store at `ctx.dockerRoot` when given (DSV_DOCKER_ROOT); else, when
 * the daemon is on this machine (a unix socket), the DockerRootDir it reports (GET /info), unless it uses
 * the containerd image store. The store must be readable and hold the driver's image metadata; otherwise
 * the Engine API.
 */
export async function chooseLocalStore(ctx: SystemContext = {}): Promise<LocalStore> {
  let root = ctx.dockerRoot || undefined;
  let driver: string | undefined;
  if (!root) {
    const host = ctx.dockerEndpoint?.host || DEFAULT_DOCKER_HOST;
    if (!host.startsWith('unix://')) return { transport: 'docker-daemon', why: `the daemon at ${host} is not on this machine` };
    const info = await daemonInfo({ ...engineOptionsFrom(ctx), debug: () => {} });
    // Without the daemon's answer its store is unknown (it need not be /var/lib/docker): let the
    // Engine API report what is wrong.
    if (!info?.DockerRootDir) return { transport: 'docker-daemon', why: `the daemon at ${host} did not say where its store is (GET /info)` };
    root = info.DockerRootDir;
    driver = info.Driver;
    const snapshotter = info.DriverStatus?.some(([k, v]) => k === 'driver-type' && /snapshotter/.test(String(v)));
    if (snapshotter) return { transport: 'docker-daemon', root, why: `the daemon uses the containerd image store (${driver})` };
  }
  const readable = dockerStoreReadable(root);
  if (!readable.readable) return { transport: 'docker-daemon', root, why: readable.why };
  if (driver && !existsSync(join(root, 'image', driver))) return { transport: 'docker-daemon', root, why: `${root}/image/${driver} does not exist` };
  return { transport: 'docker-storage', root, why: readable.why };
}
