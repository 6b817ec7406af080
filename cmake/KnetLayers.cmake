# The layering of knet's libraries (docs/architecture.md, "Layers"), checked
# when the build is configured: a library that links, or takes the include
# path of, a target its layer may not use stops the configure with a message
# naming both. Without this check the rule would erode one convenient
# include at a time.
#
# Each entry: <target>=<comma-separated targets and imported libraries it may use
# directly> (transitive use through an allowed target is fine).
set(KNET_LAYERS
  "knet_base="
  "knet_nlw=knet_base,PkgConfig::LIBNL"
  "knet_tc=knet_base,knet_nlw,PkgConfig::LIBNL"
  "knet_nat=knet_base,PkgConfig::LIBNFT"
  "knet_cni=knet_base,nlohmann_json::nlohmann_json"
  "knet_ipam=knet_base,knet_cni"
  "knet_plugin_common=knet_base,knet_cni,knet_nlw"
  "knet_etcd=knet_base,nlohmann_json::nlohmann_json,CURL::libcurl,OpenSSL::Crypto"
  # The agent sits above the plugins: it runs the vxlan plugin's own
  # reconcile (knet_vxlan), not a copy of it.
  "knet_node=knet_base,knet_etcd,knet_vxlan,knet_cni,knet_nlw")
# knet's own library targets: only these are subject to the allow lists
# (a system library a layer names is covered by its entry).
set(KNET_LAYER_TARGETS knet_base knet_nlw knet_tc knet_nat knet_cni knet_ipam knet_plugin_common
    knet_etcd knet_node)
# What the plugins' executable `knet` must never link, even indirectly: every
# plugin exec would load it (libcurl and OpenSSL cost milliseconds per exec).
set(KNET_NOT_IN_PLUGINS knet_etcd knet_node CURL::libcurl OpenSSL::Crypto OpenSSL::SSL)

# Fails the configure when a target of KNET_LAYERS uses something outside
# its allow list: in LINK_LIBRARIES / INTERFACE_LINK_LIBRARIES, or an include
# directory that is another layer's (…/<folder>/include of a knet target it
# may not use).
function(knet_check_layers)
  set(include_dirs "")
  foreach(t ${KNET_LAYER_TARGETS})
    if(TARGET ${t})
      get_target_property(dirs ${t} INTERFACE_INCLUDE_DIRECTORIES)
      if(dirs)
        foreach(d ${dirs})
          list(APPEND include_dirs "${t}=${d}")
        endforeach()
      endif()
    endif()
  endforeach()
  foreach(entry ${KNET_LAYERS})
    string(FIND "${entry}" "=" eq)
    string(SUBSTRING "${entry}" 0 ${eq} target)
    math(EXPR rest "${eq} + 1")
    string(SUBSTRING "${entry}" ${rest} -1 allowed_csv)
    string(REPLACE "," ";" allowed "${allowed_csv}")
    if(NOT TARGET ${target})
      continue()
    endif()
    set(used "")
    foreach(prop LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
      get_target_property(libs ${target} ${prop})
      if(libs)
        list(APPEND used ${libs})
      endif()
    endforeach()
    list(REMOVE_DUPLICATES used)
    foreach(lib ${used})
      if(lib MATCHES "^\\$<" OR lib MATCHES "^-")
        continue()  # generator expressions (PRIVATE link-only wrappers), link flags
      endif()
      if(NOT lib IN_LIST allowed)
        message(FATAL_ERROR "layering: ${target} links ${lib}, which its layer may not use "
                            "(allowed: ${allowed}); see docs/architecture.md, \"Layers\"")
      endif()
    endforeach()
    get_target_property(own_dirs ${target} INCLUDE_DIRECTORIES)
    if(own_dirs)
      foreach(pair ${include_dirs})
        string(REPLACE "=" ";" kv "${pair}")
        list(GET kv 0 owner)
        list(GET kv 1 dir)
        if(owner STREQUAL target OR owner IN_LIST allowed)
          continue()
        endif()
        if(dir IN_LIST own_dirs)
          message(FATAL_ERROR "layering: ${target} has ${owner}'s include directory ${dir} "
                              "on its include path, which its layer may not use; see "
                              "docs/architecture.md, \"Layers\"")
        endif()
      endforeach()
    endif()
  endforeach()
endfunction()

# The targets `target` links, directly or through other targets (generator
# expressions unwrapped), into the variable `out`.
function(knet_link_closure target out)
  set(seen "")
  set(todo ${target})
  while(todo)
    list(POP_FRONT todo t)
    if(t IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${t})
    if(NOT TARGET ${t})
      continue()
    endif()
    foreach(prop LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
      get_target_property(libs ${t} ${prop})
      if(libs)
        foreach(lib ${libs})
          string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" lib "${lib}")
          list(APPEND todo ${lib})
        endforeach()
      endif()
    endforeach()
  endwhile()
  set(${out} ${seen} PARENT_SCOPE)
endfunction()

# Fails the configure when `executable` links anything of KNET_NOT_IN_PLUGINS.
function(knet_check_plugin_executable executable)
  if(NOT TARGET ${executable})
    return()
  endif()
  knet_link_closure(${executable} closure)
  foreach(lib ${KNET_NOT_IN_PLUGINS})
    if(lib IN_LIST closure)
      message(FATAL_ERROR "layering: the plugins' executable ${executable} links ${lib}; "
                          "every plugin exec would load it (see docs/architecture.md, \"Layers\")")
    endif()
  endforeach()
endfunction()
