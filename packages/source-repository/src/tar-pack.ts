// tar-stream's packer in a module of its own: imported when a docker-daemon: destination is opened, so reading the store on disk never evaluates tar-stream (bench/NOTES.md §26).
export { pack } from 'tar-stream';
