# Every third-party dependency is found here, nowhere else.
find_package(Threads REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(HDF5 REQUIRED COMPONENTS C)
# The codecs of compressed shards, which io decodes itself outside HDF5's lock (src/io/ChunkDecode.hpp).
find_package(ZLIB REQUIRED)
find_path(TAUTRAIN_BLOSC_INCLUDE_DIR blosc.h)
find_library(TAUTRAIN_BLOSC_LIBRARY blosc)
find_path(TAUTRAIN_LZ4_INCLUDE_DIR lz4.h)
find_library(TAUTRAIN_LZ4_LIBRARY lz4)
foreach(codec BLOSC LZ4)
  if(NOT TAUTRAIN_${codec}_INCLUDE_DIR OR NOT TAUTRAIN_${codec}_LIBRARY)
    string(TOLOWER ${codec} name)
    message(FATAL_ERROR "${name} not found: install lib${name}-dev")
  endif()
endforeach()
find_package(Eigen3 3.3 REQUIRED NO_MODULE)
find_package(Protobuf REQUIRED)
if(TAUTRAIN_JEMALLOC)
  # The allocator of the tautrain program (src/core/Allocator.hpp says why).
  find_library(TAUTRAIN_JEMALLOC_LIBRARY jemalloc)
  if(NOT TAUTRAIN_JEMALLOC_LIBRARY)
    message(FATAL_ERROR "jemalloc not found: install libjemalloc-dev, or configure with -DTAUTRAIN_JEMALLOC=OFF "
                        "(glibc's allocator then keeps freed memory: about 2.4x the peak memory in training)")
  endif()
  message(STATUS "jemalloc: ${TAUTRAIN_JEMALLOC_LIBRARY}")
endif()
# What a program links to get that allocator. Needed although none of its symbols is called by
# name (it replaces malloc), hence no --as-needed.
add_library(tautrain_allocator INTERFACE)
add_library(tautrain::allocator ALIAS tautrain_allocator)
if(TAUTRAIN_JEMALLOC)
  target_link_libraries(tautrain_allocator INTERFACE "-Wl,--no-as-needed" ${TAUTRAIN_JEMALLOC_LIBRARY} "-Wl,--as-needed")
endif()
if(TAUTRAIN_ONNX)
  # libonnx: the official onnx.proto, compiled, with the model checker and shape inference.
  find_package(ONNX CONFIG REQUIRED)
  # libonnx 1.12 (Debian 12) names its target onnx, 1.17 (Debian 13) ONNX::onnx.
  if(TARGET ONNX::onnx)
    set(TAUTRAIN_ONNX_TARGET ONNX::onnx)
  else()
    set(TAUTRAIN_ONNX_TARGET onnx)
  endif()
  # ONNX Runtime (Debian 13's libonnxruntime-dev) scores exported graphs for the parity check;
  # without it the export still works and the check says what is missing.
  find_path(TAUTRAIN_ORT_INCLUDE_DIR onnxruntime_cxx_api.h PATH_SUFFIXES onnxruntime)
  find_library(TAUTRAIN_ORT_LIBRARY onnxruntime)
  if(TAUTRAIN_ORT_INCLUDE_DIR AND TAUTRAIN_ORT_LIBRARY)
    message(STATUS "ONNX Runtime: ${TAUTRAIN_ORT_LIBRARY}")
  else()
    message(STATUS "ONNX Runtime: not found; `tautrain export --check` will say so")
  endif()
endif()

if(TAUTRAIN_TORCH_FROM_PYTHON)
  # LibTorch ships inside the torch Python package: ask it where its CMake config lives.
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
  execute_process(
    COMMAND "${Python3_EXECUTABLE}" -c "import torch; print(torch.utils.cmake_prefix_path)"
    OUTPUT_VARIABLE TAUTRAIN_TORCH_PREFIX OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _torch_found)
  if(NOT _torch_found EQUAL 0)
    message(FATAL_ERROR "TAUTRAIN_TORCH_FROM_PYTHON=ON but '${Python3_EXECUTABLE} -c \"import torch\"' failed")
  endif()
  list(APPEND CMAKE_PREFIX_PATH "${TAUTRAIN_TORCH_PREFIX}")
endif()
find_package(Torch REQUIRED)
# Torch's config adds its flags to CMAKE_CXX_FLAGS; keep only the target-level ones.
message(STATUS "LibTorch ${Torch_VERSION} from ${Torch_DIR}")
if(TORCH_CUDA_LIBRARIES)
  # CUDA graphs and the CUDA allocator's statistics need LibTorch's CUDA headers.
  add_compile_definitions(TAUTRAIN_WITH_CUDA)
endif()
if(TAUTRAIN_REQUIRE_CUDA)
  # The CUDA and NCCL paths compile only against a CUDA LibTorch: a CPU one would build and
  # pass while leaving them out. dist/Communicator.cpp also stops the build without NCCL.
  if(NOT TORCH_CUDA_LIBRARIES)
    message(FATAL_ERROR "TAUTRAIN_REQUIRE_CUDA=ON, but the LibTorch in ${Torch_DIR} has no CUDA")
  endif()
  add_compile_definitions(TAUTRAIN_REQUIRE_CUDA)
  message(STATUS "LibTorch with CUDA (${TORCH_CUDA_LIBRARIES}): the CUDA paths are compiled")
endif()
