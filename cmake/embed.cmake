# Writes the bytes of INPUT as a C array named NAME into OUTPUT:
#   const unsigned char NAME[]; const unsigned long NAME_len;
# Used to embed the kernels' assembly in netc (cmake -P, no xxd needed;
# cmake/kernel_asm.cmake includes it).
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" nhex)
math(EXPR nbytes "${nhex} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "((0x..,){24})" "\\1\n" body "${body}")
file(WRITE "${OUTPUT}.tmp"
     "/* Generated from ${INPUT} by cmake/embed.cmake; do not edit. */\n"
     "const unsigned char ${NAME}[] = {\n${body}\n};\n"
     "const unsigned long ${NAME}_len = ${nbytes};\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
