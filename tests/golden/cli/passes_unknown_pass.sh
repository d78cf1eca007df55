# A misspelt pass: the pass manager's --passes:1:COL diagnostic lists the
# known passes; opt writes nothing.
"$NETC" opt ../../examples/mlp.net --passes=dce,fold-bnn -o "$TMP/out.ir"
echo "exit status of opt: $?"
ls "$TMP"
