# Compiler settings in one place.
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
set(CMAKE_EXPORT_COMPILE_COMMANDS ON)

if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()

if(TAUTRAIN_USE_CCACHE)
  find_program(TAUTRAIN_CCACHE ccache)
  if(TAUTRAIN_CCACHE)
    # Without these ccache refuses every compile that uses the torch precompiled header (most
    # of them); the base directory makes paths relative, so a fresh clone elsewhere (CI) hits.
    set(CMAKE_CXX_COMPILER_LAUNCHER ${CMAKE_COMMAND} -E env CCACHE_BASEDIR=${PROJECT_SOURCE_DIR}
        CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime ${TAUTRAIN_CCACHE})
  endif()
endif()

set(TAUTRAIN_WARNINGS -Wall -Wextra -Wpedantic -Wno-unused-parameter)
