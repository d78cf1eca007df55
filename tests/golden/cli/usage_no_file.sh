# A command without an input file.
"$NETC" stats
