/*
 * onnx_read.h - reading ONNX files into the compiler's own IR.
 *
 * The only interface between protobuf-c and the rest of onnxcc: callers get
 * a Graph or a Tensor and never see a protobuf type.
 */
#ifndef ONNX_READ_H
#define ONNX_READ_H

#include "compiler.h"

// Reads a ModelProto from path. NULL on error (reported through d).
Graph *onnx_read_model(Diag *d, const char *path);
// The same under the caps of limits (NULL: the defaults), which the graph keeps.
Graph *onnx_read_model_limited(Diag *d, const char *path, const Limits *limits);

// 0 if a serialized ModelProto nests messages too deeply to unpack safely
// (protobuf-c recurses once per level); 1 otherwise.
int onnx_model_nesting_ok(const void *bytes, size_t len);

// Reads one serialized TensorProto (test-data input_K.pb / output_K.pb) into
// a fresh constant tensor. NULL on error.
Tensor *onnx_read_tensor_file(Diag *d, const char *path);

// Writes the weights of an onnxcc checkpoint into the model's initializers
// (by name) and saves the result as out_path. 0 on success.
int onnx_export_checkpoint(Diag *d, const char *model, const char *checkpoint,
                           const char *out_path);

#endif /* ONNX_READ_H */
