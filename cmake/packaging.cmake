# packaging.cmake - what an installed meshq needs beyond the library:
# man pages (from docs/man/*.scd, with scdoc), a sample configuration,
# the systemd unit and its user, and the Debian package (cpack -G DEB).
#
# The configuration and the unit name where the package puts things:
# /etc/meshq when installed under /usr, else PREFIX/etc/meshq, decided
# at install time so that `cmake --install --prefix DIR` stays in DIR.

#  Man pages, made at build time.
find_program (MESHQ_SCDOC scdoc)
set (MESHQ_MAN_PAGES meshq-agent.8 meshq.1 meshq.conf.5)
if (MESHQ_SCDOC)
    set (MESHQ_MAN_OUTPUTS "")
    foreach (page ${MESHQ_MAN_PAGES})
        set (source ${PROJECT_SOURCE_DIR}/docs/man/${page}.scd)
        set (output ${PROJECT_BINARY_DIR}/man/${page})
        add_custom_command (OUTPUT ${output}
            COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
            COMMAND ${PROJECT_SOURCE_DIR}/cmake/scdoc.sh ${MESHQ_SCDOC}
                ${source} ${output}
            DEPENDS ${source} ${PROJECT_SOURCE_DIR}/cmake/scdoc.sh
            COMMENT "Making man page ${page}")
        list (APPEND MESHQ_MAN_OUTPUTS ${output})
        string (REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${page})
        install (FILES ${output}
            DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
    endforeach ()
    add_custom_target (meshq_man ALL DEPENDS ${MESHQ_MAN_OUTPUTS})
else ()
    message (WARNING "scdoc not found: no man pages (apt-get install scdoc)")
endif ()

#  The sample configuration, as an example and as the configuration
#  file; the unit, with the binary's installed path; the unit's user.
install (FILES contrib/meshq.conf
    DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install (DIRECTORY contrib/prometheus contrib/grafana contrib/kubernetes
    DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install (FILES contrib/Containerfile
    DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install (FILES contrib/systemd/meshq.sysusers
    DESTINATION lib/sysusers.d RENAME meshq.conf)
install (CODE "
    if (CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
        set (meshq_etc /etc)
    else ()
        set (meshq_etc \"\${CMAKE_INSTALL_PREFIX}/etc\")
    endif ()
    set (MESHQ_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
    set (MESHQ_SYSCONFDIR \"\${meshq_etc}\")
    #  One file per destination: installs side by side (tests) must
    #  not write each other's.
    string (MD5 meshq_tag \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}\")
    set (meshq_unit \"${PROJECT_BINARY_DIR}/systemd/\${meshq_tag}/meshq-agent.service\")
    configure_file (\"${PROJECT_SOURCE_DIR}/contrib/systemd/meshq-agent.service.in\"
        \"\${meshq_unit}\" @ONLY)
    file (INSTALL \"\${meshq_unit}\"
        DESTINATION \"\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\")
    file (REMOVE_RECURSE \"${PROJECT_BINARY_DIR}/systemd/\${meshq_tag}\")
    file (INSTALL \"${PROJECT_SOURCE_DIR}/contrib/meshq.conf\"
        DESTINATION \"\${meshq_etc}/meshq\")
")

#  cpack -G DEB: one package with the agent, the tool, the library, its
#  headers and pkg-config file, the man pages and the unit. DESTDIR
#  staging, so that /etc lands in the package and never on this host.
set (CPACK_PACKAGE_NAME meshq)
set (CPACK_PACKAGE_VENDOR "meshq")
set (CPACK_PACKAGE_CONTACT "meshq maintainers <meshq@localhost>")
set (CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "brokerless messaging over ZeroMQ: queue agents with RabbitMQ's model")
set (CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set (CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set (CPACK_PACKAGING_INSTALL_PREFIX /usr)
set (CPACK_INSTALL_PREFIX /usr)
set (CPACK_SET_DESTDIR ON)
set (CPACK_GENERATOR DEB)
set (CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set (CPACK_DEBIAN_PACKAGE_SECTION net)
set (CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
#  dpkg-shlibdeps cannot see libmicrohttpd, which the agent loads at run
#  time (decision 0045): its package is named here, found as
#  dpkg-shlibdeps finds one, by the file of its soname (libmicrohttpd12
#  on Debian 12), else as the soname's name and number.
string (REGEX REPLACE "\\.so\\.([0-9]+)$" "\\1" MESHQ_MHD_PACKAGE
    "${MESHQ_MHD_SONAME}")
find_program (MESHQ_DPKG_QUERY dpkg-query)
foreach (meshq_library ${MESHQ_MHD_LINK_LIBRARIES})
    get_filename_component (meshq_dir "${meshq_library}" DIRECTORY)
    if (MESHQ_DPKG_QUERY)
        execute_process (COMMAND ${MESHQ_DPKG_QUERY} -S
            "${meshq_dir}/${MESHQ_MHD_SONAME}"
            OUTPUT_VARIABLE meshq_owner ERROR_QUIET)
        if (meshq_owner MATCHES "^([a-z0-9.+-]+)(:[a-z0-9]+)?: ")
            set (MESHQ_MHD_PACKAGE ${CMAKE_MATCH_1})
        endif ()
    endif ()
endforeach ()
set (CPACK_DEBIAN_PACKAGE_DEPENDS
    "adduser, ${MESHQ_MHD_PACKAGE} (>= ${MESHQ_MHD_VERSION})")
set (CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/contrib/debian/postinst
    ${PROJECT_SOURCE_DIR}/contrib/debian/prerm
    ${PROJECT_SOURCE_DIR}/contrib/debian/conffiles)
set (CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include (CPack)
