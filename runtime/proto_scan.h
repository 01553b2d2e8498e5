/*
 * A bounds-checked walk over protobuf wire bytes, driven by protobuf-c's own
 * descriptors, before protobuf-c unpacks them. protobuf-c recurses without a
 * depth limit and reports failures without a location; this pass refuses
 * hostile framing (bad wire types, overlong varints, lengths past the end,
 * nesting beyond the limit, too many nodes, oversized tensors) with the byte
 * offset and the field path, so unpacking only ever sees sane input.
 */
#ifndef OC_PROTO_SCAN_H
#define OC_PROTO_SCAN_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "onnxc.h"

typedef struct oc_scan_stats {
    uint64_t nodes;          /* NodeProto messages anywhere */
    uint64_t tensor_bytes;   /* raw/typed payload bytes of all TensorProtos */
} oc_scan_stats;

onnxc_status oc_proto_scan(const uint8_t *data, size_t size,
                           const ProtobufCMessageDescriptor *desc, const onnxc_limits *limits,
                           const char *label, oc_scan_stats *stats, onnxc_error *err);

#endif
