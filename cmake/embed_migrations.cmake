# labbook_embed_migrations(TEMPLATE OUTPUT file...): a store's schema migrations, in order, compiled
# into its library as string literals (so nothing is read from the source tree at run time). Each
# file's number (its first four characters) must be its position; TEMPLATE is configured into
# OUTPUT with @LABBOOK_MIGRATION_ENTRIES@ replaced by the {"file", R"(sql)"} entries. Shared by
# the SQLite and PostgreSQL stores.
function(labbook_embed_migrations template output)
  set(LABBOOK_MIGRATION_ENTRIES "")
  set(expected_number 1)
  foreach(migration IN LISTS ARGN)
    get_filename_component(file_name ${migration} NAME)
    string(SUBSTRING "${file_name}" 0 4 number)
    math(EXPR number "${number}" OUTPUT_FORMAT DECIMAL)
    if(NOT number EQUAL expected_number)
      message(FATAL_ERROR "${migration}: expected migration number ${expected_number}")
    endif()
    math(EXPR expected_number "${expected_number} + 1")
    file(READ ${CMAKE_CURRENT_SOURCE_DIR}/${migration} sql)
    if(sql MATCHES "\\)labbook_sql\"")
      message(FATAL_ERROR "${migration} contains the literal's delimiter )labbook_sql\"")
    endif()
    string(APPEND LABBOOK_MIGRATION_ENTRIES
      "      {\"${file_name}\", R\"labbook_sql(${sql})labbook_sql\"},\n")
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${migration})
  endforeach()
  configure_file(${template} ${output} @ONLY)
endfunction()
