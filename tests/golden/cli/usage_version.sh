# --version prints the version and exits 0.
"$NETC" --version | sed "s/[0-9][0-9.]*/X.Y.Z/"
