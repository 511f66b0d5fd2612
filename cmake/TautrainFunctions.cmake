# tautrain_add_module(<name> SOURCES ... [DEPS ...] [TORCH])
# Creates library tautrain_<name> with alias tautrain::<name>; TORCH links LibTorch
# and uses the shared torch precompiled header.
function(tautrain_add_module name)
  cmake_parse_arguments(ARG "TORCH" "" "SOURCES;DEPS" ${ARGN})
  set(target tautrain_${name})
  add_library(${target} STATIC ${ARG_SOURCES})
  add_library(tautrain::${name} ALIAS ${target})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR}/include)
  target_compile_options(${target} PRIVATE ${TAUTRAIN_WARNINGS})
  target_link_libraries(${target} PUBLIC ${ARG_DEPS})
  if(ARG_TORCH)
    target_link_libraries(${target} PUBLIC ${TORCH_LIBRARIES})
    tautrain_use_torch_pch(${target})
  endif()
endfunction()

# Targets that include torch precompile it once each (a torch TU costs ~15 s otherwise).
function(tautrain_use_torch_pch target)
  target_precompile_headers(${target} PRIVATE <torch/torch.h>)
  # ccache can then cache the compiles that use the precompiled header.
  target_compile_options(${target} PRIVATE -fpch-preprocess)
endfunction()
