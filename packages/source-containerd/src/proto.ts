// The subset of containerd's gRPC API (services content, images, leases, namespaces; v1) that the
// containerd: transport uses, written as .proto text with containerd's field numbers, parsed once.
import protobuf from 'protobufjs';

const GOOGLE_PROTO = `
syntax = "proto3";

package google.protobuf;
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
message Empty {}
message FieldMask { repeated string paths = 1; }
`;

const TYPES_PROTO = `
syntax = "proto3";
package containerd.types;
message Descriptor {
  string media_type = 1;
  string digest = 2;
  int64 size = 3;
  map<string, string> annotations = 5;
}
`;

const CONTENT_PROTO = `
syntax = "proto3";
package containerd.services.content.v1;
service Content {
  rpc Info(InfoRequest) returns (InfoResponse);
  rpc Update(UpdateRequest) returns (UpdateResponse);
  rpc Read(ReadContentRequest) returns (stream ReadContentResponse);
  rpc Status(StatusRequest) returns (StatusResponse);
  rpc Write(stream WriteContentRequest) returns (stream WriteContentResponse);
  rpc Abort(AbortRequest) returns (google.protobuf.Empty);
}
message Info {
  string digest = 1;
  int64 size = 2;
  google.protobuf.Timestamp created_at = 3;
  google.protobuf.Timestamp updated_at = 4;
  map<string, string> labels = 5;
}
message InfoRequest { string digest = 1; }
message InfoResponse { Info info = 1; }
message UpdateRequest { Info info = 1; google.protobuf.FieldMask update_mask = 2; }
message UpdateResponse { Info info = 1; }
message ReadContentRequest { string digest = 1; int64 offset = 2; int64 size = 3; }
message ReadContentResponse { int64 offset = 1; bytes data = 2; }
message Status {
  google.protobuf.Timestamp started_at = 1;
  google.protobuf.Timestamp updated_at = 2;
  string ref = 3;
  int64 offset = 4;
  int64 total = 5;
  string expected = 6;
}
message StatusRequest { string ref = 1; }
message StatusResponse { Status status = 1; }
enum WriteAction { STAT = 0; WRITE = 1; COMMIT = 2; }
message WriteContentRequest {
  WriteAction action = 1;
  string ref = 2;
  int64 total = 3;
  string expected = 4;
  int64 offset = 5;
  bytes data = 6;
  map<string, string> labels = 7;
}
message WriteContentResponse {
  WriteAction action = 1;
  google.protobuf.Timestamp started_at = 2;
  google.protobuf.Timestamp updated_at = 3;
  int64 offset = 4;
  int64 total = 5;
  string digest = 6;
}
message AbortRequest { string ref = 1; }
`;

const IMAGES_PROTO = `
syntax = "proto3";
package containerd.services.images.v1;
service Images {
  rpc Get(GetImageRequest) returns (GetImageResponse);
  rpc List(ListImagesRequest) returns (ListImagesResponse);
  rpc Create(CreateImageRequest) returns (CreateImageResponse);
  rpc Update(UpdateImageRequest) returns (UpdateImageResponse);
}
message Image {
  string name = 1;
  map<string, string> labels = 2;
  containerd.types.Descriptor target = 3;
  google.protobuf.Timestamp created_at = 7;
  google.protobuf.Timestamp updated_at = 8;
}
message GetImageRequest { string name = 1; }
message GetImageResponse { Image image = 1; }
message ListImagesRequest { repeated string filters = 1; }
message ListImagesResponse { repeated Image images = 1; }
message CreateImageRequest { Image image = 1; }
message CreateImageResponse { Image image = 1; }
message UpdateImageRequest { Image image = 1; google.protobuf.FieldMask update_mask = 2; }
message UpdateImageResponse { Image image = 1; }
`;

const LEASES_PROTO = `
syntax = "proto3";
package containerd.services.leases.v1;
service Leases {
  rpc Create(CreateRequest) returns (CreateResponse);
  rpc Delete(DeleteRequest) returns (google.protobuf.Empty);
  rpc List(ListRequest) returns (ListResponse);
  rpc AddResource(AddResourceRequest) returns (google.protobuf.Empty);
}
message Lease { string id = 1; google.protobuf.Timestamp created_at = 2; map<string, string> labels = 3; }
message CreateRequest { string id = 1; map<string, string> labels = 3; }
message CreateResponse { Lease lease = 1; }
message DeleteRequest { string id = 1; bool sync = 2; }
message ListRequest { repeated string filters = 1; }
message ListResponse { repeated Lease leases = 1; }
message Resource { string id = 1; string type = 2; }
message AddResourceRequest { string id = 1; Resource resource = 2; }
`;

const NAMESPACES_PROTO = `
syntax = "proto3";
package containerd.services.namespaces.v1;
service Namespaces {
  rpc Get(GetNamespaceRequest) returns (GetNamespaceResponse);
  rpc List(ListNamespacesRequest) returns (ListNamespacesResponse);
}
message Namespace { string name = 1; map<string, string> labels = 2; }
message GetNamespaceRequest { string name = 1; }
message GetNamespaceResponse { Namespace namespace = 1; }
message ListNamespacesRequest { string filter = 1; }
message ListNamespacesResponse { repeated Namespace namespaces = 1; }
`;

let root: protobuf.Root | undefined;

/** The parsed definitions (one Root for all services). */
export function containerdRoot(): protobuf.Root {
  if (root) return root;
  const r = new protobuf.Root();
  for (const text of [GOOGLE_PROTO, TYPES_PROTO, CONTENT_PROTO, IMAGES_PROTO, LEASES_PROTO, NAMESPACES_PROTO]) {
    protobuf.parse(text, r, { keepCase: true });
  }
  r.resolveAll();
  root = r;
  return r;
}

/** A message type by its full name, e.g. `containerd.services.content.v1.InfoRequest`. */
export function messageType(fullName: string): protobuf.Type {
  return containerdRoot().lookupType(fullName);
}
