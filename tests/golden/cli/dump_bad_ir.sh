# An IR text file with an error is reported with line and column.
printf "graph g {\n  input %%x : f32[1, 4]\n  %%0 : f32[1, 9] = relu(%%x)\n  output y = %%0\n}\n" > "$TMP/bad.ir"
"$NETC" dump "$TMP/bad.ir"
