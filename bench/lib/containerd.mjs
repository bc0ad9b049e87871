// The real containerd (Debian's 1.6) for the bench, as e2e/containerd/containerd-daemon.ts runs it: a private
// --root, --state and socket, no CRI, the native snapshotter only; stopped by PID.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

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

export async function startContainerd() {
  // Short paths: unix socket paths are limited to ≈ 107 bytes.
  const dir = mkdtempSync('/tmp/dsvbc-');
  const root = join(dir, 'root');
  const state = join(dir, 'state');
  const socket = join(dir, 'c.sock');
  mkdirSync(root);
  mkdirSync(state);
  const config = join(dir, 'config.toml');
  writeFileSync(config, [
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
    '',
  ].join('\n'));
  const child = spawn('containerd', ['--config', config], { stdio: 'ignore', detached: true });
  const ctr = (namespace, args) => execFileSync('ctr', ['-a', socket, '-n', namespace, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  for (let i = 0; i < 600; i++) {
    if (existsSync(socket)) {
      try {
        ctr('default', ['version']);
        break;
      } catch {}
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    socket,
    ctr,
    stop: async () => {
      try { process.kill(-child.pid, 'SIGTERM'); } catch {}
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
