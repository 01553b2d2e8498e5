# Fast GEMM kernels (runtime/kernels/), included by the top-level
# CMakeLists.txt after the onnxc_core target exists:
#
#     include(cmake/Kernels.cmake)
#
# The kernel sources join onnxc_core. Only the AVX2 and AVX-512 kernel files
# get -m flags, so the library still runs on any x86-64: cpu_features.c picks
# the kernel family at run time. A compiler that cannot build one of those
# files (or a non-x86 target) leaves that family out; nothing else changes.
include(CheckCSourceCompiles)

file(GLOB ONNXC_KERNEL_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/runtime/kernels/*.c)
target_sources(onnxc_core PRIVATE ${ONNXC_KERNEL_SOURCES})
# Lets tests and benchmarks tell whether the kernels are part of the build.
target_compile_definitions(onnxc_core PUBLIC ONNXC_HAVE_SGEMM_KERNELS)

# BMI2 for pext in the zero-skipping kernels (sgemm_sparse_avx512.c);
# cpu_features.c asks for it with AVX-512F.
set(ONNXC_KERNEL_AVX512_FLAGS -mavx512f -mfma -mbmi2)
set(ONNXC_KERNEL_AVX2_FLAGS -mavx2 -mfma)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|i[3-6]86)$")
  set(CMAKE_REQUIRED_QUIET ON)
  string(REPLACE ";" " " CMAKE_REQUIRED_FLAGS "${ONNXC_KERNEL_AVX512_FLAGS}")
  check_c_source_compiles([=[
    #include <immintrin.h>
    int main(void) {
      __m512 a = _mm512_set1_ps(1.0f);
      a = _mm512_fmadd_ps(a, a, a);
      _mm512_mask_storeu_ps((float[16]){0}, (__mmask16)3, a);
      return (int)_mm512_reduce_add_ps(a) + (int)_pext_u64(6u, 2u);
    }]=] ONNXC_CC_AVX512)
  string(REPLACE ";" " " CMAKE_REQUIRED_FLAGS "${ONNXC_KERNEL_AVX2_FLAGS}")
  check_c_source_compiles([=[
    #include <immintrin.h>
    int main(void) {
      __m256 a = _mm256_set1_ps(1.0f);
      a = _mm256_fmadd_ps(a, a, a);
      _mm256_maskstore_ps((float[8]){0}, _mm256_set1_epi32(-1), a);
      return _mm256_movemask_ps(a);
    }]=] ONNXC_CC_AVX2)
  unset(CMAKE_REQUIRED_FLAGS)
  unset(CMAKE_REQUIRED_QUIET)

  if(ONNXC_CC_AVX512)
    set_source_files_properties(${CMAKE_SOURCE_DIR}/runtime/kernels/sgemm_avx512.c
      ${CMAKE_SOURCE_DIR}/runtime/kernels/sgemm_sparse_avx512.c
      ${CMAKE_SOURCE_DIR}/runtime/kernels/sgemm_narrow_avx512.c
      PROPERTIES COMPILE_OPTIONS "${ONNXC_KERNEL_AVX512_FLAGS}")
    target_compile_definitions(onnxc_core PRIVATE ONNXC_HAVE_AVX512_KERNELS)
  endif()
  if(ONNXC_CC_AVX2)
    set_source_files_properties(${CMAKE_SOURCE_DIR}/runtime/kernels/sgemm_avx2.c
      PROPERTIES COMPILE_OPTIONS "${ONNXC_KERNEL_AVX2_FLAGS}")
    target_compile_definitions(onnxc_core PRIVATE ONNXC_HAVE_AVX2_KERNELS)
  endif()
endif()

# Optimizer updates: sqrtf must compile to one instruction to vectorize (it
# never sees a negative argument, so errno is moot).
set_source_files_properties(${CMAKE_SOURCE_DIR}/runtime/kernels/optim_update.c
  PROPERTIES COMPILE_OPTIONS "-fno-math-errno")

# exp() for Softmax: a remainder loop after the vector body is fine here (GCC's
# default very-cheap cost model at -O2 refuses one), and the final select may
# be if-converted (with -ftrapping-math GCC keeps it a branch, which stops the
# AVX2 and baseline copies from vectorizing). Nothing here reads FP flags.
set_source_files_properties(${CMAKE_SOURCE_DIR}/runtime/kernels/vexp.c
  PROPERTIES COMPILE_OPTIONS "$<$<C_COMPILER_ID:GNU>:-fvect-cost-model=dynamic>;-fno-trapping-math")

# Softmax cross-entropy (train/loss.c): its block path is multiversioned and
# must round as the per-row path does, so no family may fuse a multiply and
# an add (-ffp-contract=off); its loops over a block's rows need the dynamic
# cost model to vectorize at -O2, and their selects need -fno-trapping-math
# to be if-converted. Nothing there reads FP flags.
set_source_files_properties(${CMAKE_SOURCE_DIR}/runtime/train/loss.c
  PROPERTIES COMPILE_OPTIONS "-ffp-contract=off;$<$<C_COMPILER_ID:GNU>:-fvect-cost-model=dynamic>;-fno-trapping-math")
