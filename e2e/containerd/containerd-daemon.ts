// Runs the real containerd (1.6) on a private --root, --state and socket with a config that disables the
// CRI plugin and everything else an image store does not need, and a garbage collector that runs at
// once after every mutation (so lease expiry and deletions show up in a test). Stopped by PID.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTool, run, startProcess, tempDir, type RunningProcess } from '../helpers/proc.js';

export interface Containerd {
  socket: string;
  root: string;
  state: string;
  /** Runs `ctr -a <socket> -n <namespace> …args` and returns stdout. */
  ctr(namespace: string, args: string[], input?: string | Buffer): string;
  process: RunningProcess;
  stop(): Promise<void>;
}

const DISABLED = [
  'io.containerd.grpc.v1.cri',
  'io.containerd.snapshotter.v1.aufs',
  'io.containerd.snapshotter.v1.btrfs',
  'io.containerd.snapshotter.v1.devmapper',
  'io.containerd.snapshotter.v1.zfs',
  'io.containerd.snapshotter.v1.overlayfs',
  'io.containerd.tracing.processor.v1.otlp',
  'io.containerd.internal.v1.tracing',
  'io.containerd.runtime.v1.linux',
  'io.containerd.runtime.v2.task',
  'io.containerd.monitor.v1.cgroups',
];

export async function startContainerd(): Promise<Containerd> {
  const containerd = requireTool('containerd');
  requireTool('ctr');
  // Short paths: unix socket paths are limited to ~107 bytes.
  const dir = tempDir('dsvc-');
  const root = join(dir, 'root');
  const state = join(dir, 'state');
  const socket = join(dir, 'c.sock');
  mkdirSync(root);
  mkdirSync(state);
  const config = join(dir, 'config.toml');
  writeFileSync(
    config,
    [
      'version = 2',
      `root = ${JSON.stringify(root)}`,
      `state = ${JSON.stringify(state)}`,
      `disabled_plugins = ${JSON.stringify(DISABLED)}`,
      '[grpc]',
      `  address = ${JSON.stringify(socket)}`,
      '[ttrpc]',
      `  address = ${JSON.stringify(`${socket}.ttrpc`)}`,
      '[debug]',
      '  address = ""',
      '[metrics]',
      '  address = ""',
      '[plugins."io.containerd.gc.v1.scheduler"]',
      '  deletion_threshold = 1',
      '  mutation_threshold = 1',
      '  schedule_delay = "0s"',
      '  startup_delay = "10ms"',
      '',
    ].join('\n'),
  );
  const proc = await startProcess(containerd, ['--config', config], {
    name: 'containerd',
    ready: async () => {
      if (!existsSync(socket)) return false;
      try {
        run('ctr', ['-a', socket, 'version']);
        return true;
      } catch {
        return false;
      }
    },
    timeoutMs: 60_000,
  });
  return {
    socket,
    root,
    state,
    ctr: (namespace, args, input) => run('ctr', ['-a', socket, '-n', namespace, ...args], { input }),
    process: proc,
    stop: () => proc.stop(),
  };
}

/** `ctr images import --no-unpack` of an archive file; the names come from the archive. */
export function importArchive(c: Containerd, namespace: string, archive: string, baseName?: string): string {
  const args = ['images', 'import', '--no-unpack', '--all-platforms'];
  if (baseName) args.push('--base-name', baseName);
  return c.ctr(namespace, [...args, archive]);
}

/** The blob file of a digest in containerd's content store. */
export function blobPath(c: Containerd, digest: string): string {
  return join(c.root, 'io.containerd.content.v1.content', 'blobs', 'sha256', digest.slice('sha256:'.length));
}
