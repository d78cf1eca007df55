# --time-passes prints one row per pass run and a total to stderr. Times
# vary, so only the last column (the pass name) is shown.
"$NETC" stats ../../examples/lenet.net -O2 --time-passes 2>&1 > /dev/null | awk '{ print $NF }'
