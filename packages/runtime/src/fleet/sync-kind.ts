// What a sync's SRC or DEST names, by its form alone; kept apart so the parser loads nothing else of fleet/.

/** `oci:DIR` (OCI layouts), a sync file (`*.yaml`, `*.yml`, `*.json`, unless `docker://`), else a registry repository or prefix. */
export function syncSideKind(arg: string): 'oci' | 'file' | 'registry' {
  if (arg.startsWith('oci:')) return 'oci';
  if (/\.(ya?ml|json)$/i.test(arg) && !arg.startsWith('docker://')) return 'file';
  return 'registry';
}
