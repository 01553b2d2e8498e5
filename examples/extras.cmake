# The API examples beyond the tutorial: inference on a tf2onnx model,
# fine-tuning a converted Keras .h5, and loading a model from memory. Each is
# built against the public library alone (onnxc.h, libonnxc) and run by ctest
# on the reference models in ../shared beside the checkout.
# Included from examples/CMakeLists.txt.

get_filename_component(ONNXC_EXAMPLE_MODELS ${CMAKE_CURRENT_LIST_DIR}/../../shared/models/real ABSOLUTE)
set(ONNXC_EXAMPLE_FASHION /usr/share/datasets/fashion-mnist)

foreach(example infer_tf2onnx keras_finetune embed_memory)
  add_executable(example_${example} ${CMAKE_CURRENT_LIST_DIR}/${example}.c)
  set_target_properties(example_${example} PROPERTIES OUTPUT_NAME ${example})
  target_link_libraries(example_${example} PRIVATE onnxc m)
endforeach()

set(_tf2onnx ${ONNXC_EXAMPLE_MODELS}/tf2onnx-1.14_op15_qianxyz_mnist-webui_model)
add_test(NAME example_infer_tf2onnx
  COMMAND example_infer_tf2onnx ${_tf2onnx}.onnx ${_tf2onnx}.input.npy ${_tf2onnx}.output.npy)

set(_embedded ${ONNXC_EXAMPLE_MODELS}/tf2onnx-1.17_op13_ohhmkar_gopherRT_mnist)
add_test(NAME example_embed_memory
  COMMAND example_embed_memory ${_embedded}.onnx ${_embedded}.input.npy ${_embedded}.output.npy)

# One epoch over 8,000 Fashion-MNIST images: about ten seconds of CPU in a
# release build, several times that under the sanitizers.
add_test(NAME example_keras_finetune
  COMMAND example_keras_finetune ${ONNXC_EXAMPLE_MODELS}/keras-2.7.0_ghss-k_mlp.h5 ${ONNXC_EXAMPLE_FASHION}
          ${CMAKE_CURRENT_BINARY_DIR}/keras_finetune_out.onnx 1)
set_tests_properties(example_keras_finetune PROPERTIES TIMEOUT 900)
