# Optional third-party libraries beyond protobuf-c and OpenMP. Each sets
# ONNXC_EXTRA_DEPS entries consumed by the library targets.
set(ONNXC_EXTRA_DEPS "")

# Keras import (converter/keras_*.c): HDF5 files through libhdf5 (serial
# build), JSON model configs through json-c, Keras 3 .keras zips through
# libzip. Debian: libhdf5-dev, libjson-c-dev, libzip-dev.
pkg_check_modules(HDF5 IMPORTED_TARGET hdf5-serial)
if(NOT HDF5_FOUND)
  pkg_check_modules(HDF5 REQUIRED IMPORTED_TARGET hdf5)
endif()
pkg_check_modules(JSONC REQUIRED IMPORTED_TARGET json-c)
pkg_check_modules(LIBZIP REQUIRED IMPORTED_TARGET libzip)
list(APPEND ONNXC_EXTRA_DEPS PkgConfig::HDF5 PkgConfig::JSONC PkgConfig::LIBZIP)
