# What `cmake --install` puts beside the executables, and the Debian package
# built from the same install rules: `cpack -G DEB` in the build dir writes
# knet_<version>_<arch>.deb (docs/deploy.md, "The Debian package").
#
# Layout (the .deb's, and `cmake --install`'s with CMAKE_INSTALL_PREFIX /usr):
#   /opt/cni/bin/knet, /opt/cni/bin/<plugin> -> knet   where kubelet's runtimes
#                           (containerd, CRI-O) look by default: KNET_CNI_BIN_DIR
#   /usr/bin/knet -> /opt/cni/bin/knet    `knet install`, `knet cnitool` on PATH
#   /usr/bin/knet-node, /lib/systemd/system/knet-node.service (not enabled),
#   /etc/default/knet-node (a conffile: the agent's flags)
#   /usr/share/doc/knet/    README, docs, example conflists, copyright, changelog
#   /usr/share/man/man1/knet.1.gz, knet-node.1.gz
# Not /usr/lib/cni: Debian's containernetworking-plugins owns it, with the
# same file names (bridge, host-local, ...); both packages install side by side.

option(KNET_INSTALL_SYSTEMD "Install knet-node's systemd unit and /etc/default/knet-node" ON)
set(KNET_DEB_DIR "${PROJECT_SOURCE_DIR}/deploy/debian")

# /usr/bin/knet: the multi-call executable under its own name on PATH. The
# prefix is read when installing (cpack installs with prefix /usr).
install(CODE "file(MAKE_DIRECTORY \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/bin\")
  file(CREATE_LINK \"${KNET_CNI_BIN_DIR}/knet\" \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/bin/knet\" SYMBOLIC)")

if(KNET_INSTALL_SYSTEMD)
  # ExecStart names knet-node where this install puts it.
  install(CODE "set(KNET_NODE_BIN \"\${CMAKE_INSTALL_PREFIX}/bin/knet-node\")
    configure_file(\"${KNET_DEB_DIR}/knet-node.service.in\"
                   \"\$ENV{DESTDIR}/lib/systemd/system/knet-node.service\" @ONLY)")
  install(FILES "${KNET_DEB_DIR}/knet-node.default" DESTINATION /etc/default RENAME knet-node)
endif()

set(doc share/doc/knet)
file(GLOB knet_docs "${PROJECT_SOURCE_DIR}/docs/*.md")
install(FILES "${PROJECT_SOURCE_DIR}/README.md" ${knet_docs} "${KNET_DEB_DIR}/copyright" DESTINATION ${doc})
file(GLOB knet_examples "${PROJECT_SOURCE_DIR}/conf/*.conflist")
install(FILES ${knet_examples} DESTINATION ${doc}/examples)

# The Debian changelog (native package: changelog.gz), dated at configure time.
set(KNET_DEB_MAINTAINER "knet developers <knet@lists.knet.dev>" CACHE STRING "The .deb's Maintainer")
string(TIMESTAMP KNET_DEB_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
configure_file("${KNET_DEB_DIR}/changelog.in" "${CMAKE_BINARY_DIR}/deb/changelog" @ONLY)
install(CODE "execute_process(COMMAND gzip -9nc \"${CMAKE_BINARY_DIR}/deb/changelog\"
  OUTPUT_FILE \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${doc}/changelog.gz\" COMMAND_ERROR_IS_FATAL ANY)")
foreach(page knet.1 knet-node.1)
  install(CODE "file(MAKE_DIRECTORY \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/share/man/man1\")
    execute_process(COMMAND gzip -9nc \"${KNET_DEB_DIR}/${page}\"
      OUTPUT_FILE \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/share/man/man1/${page}.gz\" COMMAND_ERROR_IS_FATAL ANY)")
endforeach()
install(FILES "${KNET_DEB_DIR}/lintian-overrides" DESTINATION share/lintian/overrides RENAME knet)

# `cpack` and `ninja install` install what is built and build nothing
# first (build knet and knet-node before): a package made from a build dir
# needs no test binaries.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME knet)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "${KNET_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "CNI plugins in C++ and the agent of their vxlan overlay")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "knet replaces containernetworking/plugins' bridge, macvlan, vxlan, bandwidth,
host-local and loopback one for one (same types, keys and on-disk state), as
one multi-call executable in /opt/cni/bin where container runtimes look for
CNI plugins. knet-node keeps a node's subnet lease of the vxlan overlay in
etcd and the overlay's routes and neighbours in the kernel.")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Depends: from the shared libraries the executables actually load.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
# cpack installs into its staging dir through DESTDIR: the absolute
# destinations (/opt/cni/bin, /etc, /lib/systemd) land there too.
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${KNET_DEB_DIR}/conffiles;${KNET_DEB_DIR}/postinst;${KNET_DEB_DIR}/prerm;${KNET_DEB_DIR}/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
