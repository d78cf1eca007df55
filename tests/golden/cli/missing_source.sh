# A .net file that does not exist.
"$NETC" check no/such/file.net
