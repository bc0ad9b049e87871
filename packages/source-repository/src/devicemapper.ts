/**
 * devicemapper layers live in thin devices of a pool, not in a directory. To read one we activate the
 * layer's thin device read-only under a name of our own (`dmsetup create --readonly`), mount it
 * read-only, read `<mount>/rootfs`, and always unmount and remove the device afterwards. When that is
 * not possible (not Linux, not root, no dmsetup, no pool) we refuse with Unsupported and point at
 * docker-daemon:, which reads any driver through the Engine API.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rmdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DsvError } from '@dsv/core/formats';

function exec(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 60_000, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stderr: String(stderr) }));
      else resolve({ stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

function findTool(name: string, searchPath: string | undefined): string | undefined {
  const dirs = [...(searchPath ?? '').split(':').filter(Boolean), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const d of dirs) {
    const p = join(d, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

interface DeviceInfo {
  device_id: number;
  size: number;
}

export interface MountedLayer {
  dir: string;
  release(): Promise<void>;
}

function refuse(label: string, why: string, details: Record<string, unknown> = {}): DsvError {
  return new DsvError('Unsupported', `${label}: cannot read a devicemapper layer here (${why}); use docker-daemon: instead`, { driver: 'devicemapper', ...details });
}

/** Docker's default pool name: `docker-<major>:<minor>-<inode>-pool` of the devicemapper directory. */
async function defaultPoolName(root: string): Promise<string> {
  const st = await stat(join(root, 'devicemapper'));
  const dev = st.dev;
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | (Math.floor(dev / 4096) & 0xfff00);
  return `docker-${major}:${minor}-${st.ino}-pool`;
}

/**
 * Activates and mounts the thin device holding layer `cacheId` read-only. `pool` overrides the pool
 * name (dm.thinpooldev; SystemContext.devicemapperPool, from DSV_DEVICEMAPPER_POOL); `searchPath` is
 * the PATH to find dmsetup / mount in (SystemContext.childEnv.PATH).
 */
export async function mountDevicemapperLayer(root: string, cacheId: string, label: string, opts: { pool?: string; searchPath?: string } = {}): Promise<MountedLayer> {
  const metaPath = join(root, 'devicemapper', 'metadata', cacheId);
  let info: DeviceInfo;
  try {
    info = JSON.parse(await readFile(metaPath, 'utf8')) as DeviceInfo;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new DsvError('NotFound', `${label}: devicemapper metadata ${metaPath} is missing`, { path: metaPath });
    throw new DsvError('ArchiveInvalid', `${label}: devicemapper metadata ${metaPath} is not valid JSON`, { path: metaPath });
  }
  if (!Number.isSafeInteger(info?.device_id) || info.device_id < 0 || !Number.isSafeInteger(info.size) || info.size <= 0) {
    throw new DsvError('ArchiveInvalid', `${label}: devicemapper metadata ${metaPath} lacks device_id/size`, { path: metaPath });
  }
  if (process.platform !== 'linux') throw refuse(label, 'not Linux');
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw refuse(label, 'needs root to activate thin devices');
  const dmsetup = findTool('dmsetup', opts.searchPath);
  if (!dmsetup) throw refuse(label, 'dmsetup is not installed');
  const mount = findTool('mount', opts.searchPath);
  const umount = findTool('umount', opts.searchPath);
  if (!mount || !umount) throw refuse(label, 'mount/umount not installed');
  const pool = opts.pool ?? (await defaultPoolName(root));
  if (!/^[A-Za-z0-9:_.+-]+$/.test(pool)) throw refuse(label, `unusable pool name "${pool}"`);
  try {
    const { stdout } = await exec(dmsetup, ['status', pool]);
    if (!/\bthin-pool\b/.test(stdout)) throw new Error('not a thin pool');
  } catch (e) {
    throw refuse(label, `thin pool ${pool} is not available: ${String((e as { stderr?: string }).stderr || (e as Error).message).trim().split('\n')[0]}`, { pool });
  }
  let fsType = 'xfs';
  try {
    const meta = JSON.parse(await readFile(join(root, 'devicemapper', 'metadata', 'deviceset-metadata'), 'utf8')) as { BaseDeviceFilesystem?: string };
    if (meta.BaseDeviceFilesystem && /^[a-z0-9]+$/.test(meta.BaseDeviceFilesystem)) fsType = meta.BaseDeviceFilesystem;
  } catch {
    /* default xfs, as Docker */
  }
  const name = `dsv-${randomBytes(8).toString('hex')}`;
  const sectors = Math.floor(info.size / 512);
  let created = false;
  let mnt: string | undefined;
  let mounted = false;
  const release = async () => {
    if (mounted) await exec(umount, [mnt!]).catch(() => undefined);
    mounted = false;
    if (created) await exec(dmsetup, ['remove', name]).catch(() => undefined);
    created = false;
    if (mnt) await rmdir(mnt).catch(() => undefined);
    mnt = undefined;
  };
  try {
    await exec(dmsetup, ['create', name, '--readonly', '--table', `0 ${sectors} thin /dev/mapper/${pool} ${info.device_id}`]);
    created = true;
    mnt = await mkdtemp(join(tmpdir(), 'dsv-dm-'));
    const options = fsType === 'xfs' ? 'ro,nouuid' : 'ro';
    await exec(mount, ['-t', fsType, '-o', options, `/dev/mapper/${name}`, mnt]);
    mounted = true;
  } catch (e) {
    await release();
    throw refuse(label, `activating device ${info.device_id} of ${pool} failed: ${String((e as { stderr?: string }).stderr || (e as Error).message).trim().split('\n')[0]}`, { pool });
  }
  return { dir: join(mnt, 'rootfs'), release };
}
