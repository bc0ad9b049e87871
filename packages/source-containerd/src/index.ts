// @dsv/source-containerd: the containerd: transport (containerd's gRPC API over its unix socket).
export {
  createContainerdTransport,
  containerdTransport,
  ContainerdReference,
  ContainerdSource,
  ContainerdDestination,
  gcRefLabels,
  type ContainerdOptions,
} from './transport.js';
export { parseContainerdReference, formatContainerdReference, type ParsedContainerdReference } from './reference.js';
export { ContainerdClient, DEFAULT_ADDRESS, DEFAULT_NAMESPACE } from './client.js';
export { containerdRoot } from './proto.js';
