export { dockerStorageTransport, verifyStoreImage, DEFAULT_DOCKER_ROOT } from './storage-transport.js';
export type { VerifyStoreOptions, VerifyStoreResult, VerifyStoreLayerResult } from './storage-transport.js';
export { createTarSplitReader, readTarSplitEntries, tarSplitSize, TarSplitEntryType } from './tarsplit.js';
export type { TarSplitEntry, TarSplitReaderOptions, TarSplitFileGetter } from './tarsplit.js';
export { Crc64, crc64 } from './crc64.js';
export { chainIds, SupportedDrivers } from './store.js';
export type { StorageDriver } from './store.js';
export { dockerDaemonTransport } from './daemon-transport.js';
