# Doxygen input filter for include/onnxc.h (see Doxyfile): the header is
# written with plain C comments, for people; this turns them into Doxygen
# comments on the fly, so the reference is generated from the header itself
# and there is no second copy of the API to keep in sync.
#
#   /*  (the file's opening comment)         -> /** @file
#   /* ---- */  banner lines                 -> blank
#   /* Section title        */               -> /** @name Section title */ group
#   /* Text */ before a declaration          -> /** Text */
#   code;  /* text */                        -> code;  /**< text */
#   /* Text */ just before a #if line        -> left as is
#   in comment prose: \ -> \\ (a backslash, not a Doxygen command)

# Escapes, in comment prose only: lines with a comment opener or a leading
# *, but not code examples (indented four more spaces), which Doxygen shows
# verbatim.
/^ \*     /!{
  /\/\*\|^[[:space:]]*\*/{
    s/\\/\\\\/g
  }
}

1s|^/\*$|/** @file|
s|^/\* -\{8,\} \*/$||

# A section title becomes a Doxygen member group, closing the previous one;
# the hold space remembers whether a group is open.
/^\/\* .*[^ ]   *\*\/$/{
  s|^/\* \(.*[^ ]\)  *\*/$|/** @name \1 */ /** @{ */|
  t title
  :title
  x
  /^open$/{
    x
    s|^|/** @} */ |
    b
  }
  s/.*/open/
  x
  b
}

# After the last line: close the last group, and add a main page that
# points at the header's own overview.
${
  x
  /^open$/{
    x
    a\
/** @} */
    b mainpage
  }
  x
  :mainpage
  a\
/** @mainpage onnxc C API\
 * The whole API is one header, onnxc.h: its overview, conventions and every\
 * declaration, in sections, are on the page of that file. The files onnxc\
 * reads and writes are described in docs/formats.md in the source tree. */
}

# A one-line comment at column 0: look at the next line first.
/^\/\* .*\*\/$/{
  N
  /\n#/!s|^/\* |/** |
  P
  D
}

# Trailing comments on a declaration, field or enum value.
s|^\([[:space:]]*[A-Za-z_].*[^[:space:]]\)\([[:space:]]\{1,\}\)/\*\([ <]\)|\1\2/**<\3|
s|/\*\*<<|/**<|

# Other comments that open a line (indented field comments, blocks).
s|^\([[:space:]]*\)/\* |\1/** |
s|^\([[:space:]]*\)/\*$|\1/**|
