#!/usr/bin/env node
// dsv-containerd-verifier: launcher for the built app (run `npm run build` first). containerd runs it from its
// image-verifier bin_dir for every pull; exit 0 allows the pull, anything else blocks it.
import { containerdVerifierMain } from '../bundle/containerd-verifier.js';

const exit = (code) => process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));

containerdVerifierMain(process.argv.slice(2)).then(exit, (error) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stdout.write(`dsv blocked the image: ${message.replace(/\s+/g, ' ').slice(0, 4000)}\n`);
  process.stderr.write(`dsv-containerd-verifier: error: ${message}\n`);
  exit(3);
});
