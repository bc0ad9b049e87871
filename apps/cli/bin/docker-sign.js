#!/usr/bin/env node
// docker-sign: launcher for the built CLI (apps/cli/bundle, made by `npm run build`).

// Exit once stdout and stderr are flushed, so idle keep-alive sockets or agents never hold the process.
const exit = (code) => process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));

let main;
try {
  ({ dockerSignMain: main } = await import('../bundle/legacy.js'));
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('/bundle/')) {
    process.stderr.write('docker-sign: error: the CLI is not built; run `npm run build` in the dsv checkout first\n');
    exit(3);
  } else throw error;
}
if (main) {
  main(process.argv.slice(2)).then(exit, (error) => {
    process.stderr.write(`docker-sign: error: ${error instanceof Error ? error.message : String(error)}\n`);
    exit(3);
  });
}
