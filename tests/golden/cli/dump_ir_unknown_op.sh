# An IR text file naming an operator that does not exist.
printf "graph g {\n  input %%x : f32[1, 4]\n  %%0 : f32[1, 4] = frobnicate(%%x)\n  output y = %%0\n}\n" > "$TMP/bad.ir"
"$NETC" dump "$TMP/bad.ir"
